"""Brume's object replication protocol over HTTP: the receiving side and the wire format.

Two verbs, served by the object server, both sent with `X-Backend-Replication: true`:

* `REPLICATE /<dev>/<part>[/<suffix>-<suffix>...]` — answers the partition's suffix hashes as a
  msgpack map {suffix: md5 hex}, after recomputing the suffixes named in the path (that is how a
  sender asks the peer to rehash what it has just pushed). With `X-Backend-Replicate-Op: list`
  it instead answers, for the named suffixes only, {suffix: {hash: [live file names]}} so the
  sender can decide which files the peer lacks.
* `REPLICATE /<dev>/<part>,<part>,...` with `X-Backend-Replicate-Op: batch` — the suffix
  hashes of up to `MAX_BATCH_PARTITIONS` partitions at once, {"<part>": {suffix: md5 hex}} (an
  empty map for a partition the device does not hold): how a replicator learns in one request
  which of its partitions a peer already agrees on, instead of one request per partition.
* `SYNC /<dev>/<part>/<hash>/<timestamp>.<data|ts|meta>` — pushes one object file. The body is
  the file's msgpack metadata (`X-Backend-Metadata-Length` bytes) followed by the object's body
  bytes (`.data` only; Content-Length = both together). The receiver streams the body to
  `<dev>/tmp/`, checks its MD5 against the metadata's ETag and its length against
  Content-Length (422 and nothing kept when they differ), attaches the metadata, fsyncs, renames
  into the hash dir, applies newest-wins cleanup and invalidates the suffix. 201: stored,
  200: it was already there, 409: obsolete on arrival (the peer holds something newer).

Errors are `common.http_errors.HTTPError`s, answered as one line of text by the object
server's error middleware: 400 for malformed paths/headers, 422 for a body that does not match
its ETag, 507 for a missing device, 500 when the disk fails.
"""
from __future__ import annotations

import hashlib
import os
import re

import msgpack
from webob import Response

from common.green import eventlet
from common.http_errors import HTTPError
from storage.backend_common import is_partition
from storage.objects.metadata import MetadataError, read_layout, unpack_metadata
from storage.objects.ondisk_files import cleanup_ondisk_files, parse_filename
from storage.objects.suffix_hashes import DEFAULT_RECLAIM_AGE, get_hashes, list_suffix_files
from storage.recon import handle_recon
from storage.replication.wire import (
    CHUNK,
    drain,
    msgpack_response,
    text_response,
    valid_device_name,
)
from storage.replication.wire import OP_HEADER as OP_HEADER
from storage.replication.wire import REPLICATION_HEADER as REPLICATION_HEADER

METADATA_LENGTH_HEADER = "X-Backend-Metadata-Length"
BATCH_OP = "batch"
MAX_BATCH_PARTITIONS = 256
METHODS = ("REPLICATE", "SYNC")
MAX_METADATA = 1 << 20
_HASH_RE = re.compile(r"^[0-9a-f]{32}$")
_SUFFIX_RE = re.compile(r"^[0-9a-f]{3}$")


def malformed(reason: str) -> HTTPError:
    """The 400 of a malformed replication request; `reason` is its body."""
    return HTTPError(400, reason)


# ----- paths (shared by both sides)
def replicate_path(device: str, part: int, suffixes=()) -> str:
    path = f"/{device}/{part}"
    return f"{path}/{'-'.join(sorted(suffixes))}" if suffixes else path


def batch_path(device: str, parts) -> str:
    """The path of a batch REPLICATE for `parts` (at most MAX_BATCH_PARTITIONS)."""
    return f"/{device}/{','.join(str(part) for part in parts)}"


def sync_path(device: str, part: int, obj_hash: str, name: str) -> str:
    return f"/{device}/{part}/{obj_hash}/{name}"


def parse_path(path: str, min_parts: int, max_parts: int) -> list[str]:
    """The parts of a replication path (raw PATH_INFO: every valid part is ASCII)."""
    parts = path.strip("/").split("/")
    if not min_parts <= len(parts) <= max_parts or "" in parts:
        raise malformed("bad replication path")
    device = parts[0]
    if not valid_device_name(device):
        raise malformed("bad device name")
    if not is_partition(parts[1]):
        raise malformed("bad partition")
    return parts


# ----- sender side helpers
def file_payload(path: str) -> tuple[bytes, int]:
    """(packed metadata, body length) of a local object file; raises MetadataError/OSError."""
    layout = read_layout(path)
    return msgpack.packb(layout.metadata, use_bin_type=True), layout.body_length


def body_chunks(path: str, packed: bytes, body_length: int):
    """The SYNC request body: metadata then exactly `body_length` body bytes, in chunks."""
    yield packed
    remaining = body_length
    with open(path, "rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                raise OSError(f"{path}: file shorter than its Content-Length")
            remaining -= len(chunk)
            yield chunk


def decode(body: bytes) -> dict:
    value = msgpack.unpackb(body, raw=False)
    if not isinstance(value, dict):
        raise ValueError("expected a msgpack map")
    return value


# ----- receiver side
def install(object_server, conf_dir: str, reclaim_age: float = DEFAULT_RECLAIM_AGE) -> None:
    """Serve REPLICATE, SYNC and `/recon/...` on a `storage.objects.server.ObjectServer`."""
    manager = object_server.diskfiles
    object_server.handlers["REPLICATE"] = lambda req: handle_replication(
        req, object_server.manager_for(req), reclaim_age)  # the request's storage policy
    object_server.handlers["SYNC"] = object_server.handlers["REPLICATE"]
    object_server.prefix_handlers["recon"] = lambda req: handle_recon(
        req, manager.devices_root, conf_dir
    )


def handle_replication(request, manager, reclaim_age: float):
    """webob Request -> Response for REPLICATE and SYNC; HTTPError for any refusal.

    `manager` is the object server's `storage.objects.diskfile.DiskFileManager`.
    """
    try:
        if request.method == "REPLICATE":
            return _replicate(request, manager, reclaim_age)
        if request.method == "SYNC":
            return _sync(request, manager, reclaim_age)
        raise HTTPError(405, "method not allowed")
    except (OSError, TimeoutError) as exc:
        raise HTTPError(500, "replication failed: "
                        f"{getattr(exc, 'strerror', None) or exc}") from None


def _replicate(request, manager, reclaim_age) -> Response:
    if request.headers.get(OP_HEADER) == BATCH_OP:
        return _replicate_batch(request, manager, reclaim_age)
    parts = parse_path(request.environ.get("PATH_INFO", ""), 2, 3)
    device, part = parts[0], parts[1]
    suffixes = parts[2].split("-") if len(parts) == 3 else []
    if not all(_SUFFIX_RE.match(s) for s in suffixes):
        raise malformed("bad suffix list")
    if manager.device_path(device) is None:
        raise HTTPError(507, f"device {device} unavailable")
    pdir = manager.partition_path(device, part)
    if request.headers.get(OP_HEADER, "hashes") == "list":
        return msgpack_response({s: list_suffix_files(pdir, s, reclaim_age) for s in suffixes})
    if not os.path.isdir(pdir) and not suffixes:
        return msgpack_response({})
    return msgpack_response(get_hashes(pdir, recalculate=suffixes, reclaim_age=reclaim_age))


def _replicate_batch(request, manager, reclaim_age) -> Response:
    pieces = request.environ.get("PATH_INFO", "").strip("/").split("/")
    if len(pieces) != 2 or not valid_device_name(pieces[0]):
        raise malformed("bad batch replication path")
    device, listed = pieces
    partitions = listed.split(",")
    if len(partitions) > MAX_BATCH_PARTITIONS:
        raise malformed(f"more than {MAX_BATCH_PARTITIONS} partitions in one batch")
    if not all(is_partition(part) for part in partitions):
        raise malformed("bad partition")
    if manager.device_path(device) is None:
        raise HTTPError(507, f"device {device} unavailable")
    answer = {}
    for part in dict.fromkeys(partitions):
        pdir = manager.partition_path(device, part)
        answer[part] = get_hashes(pdir, reclaim_age=reclaim_age) if os.path.isdir(pdir) else {}
        eventlet.sleep(0)  # other green threads run between partitions, as between single asks
    return msgpack_response(answer)


def _read_exact(stream, length: int) -> bytes:
    data = bytearray()
    while len(data) < length:
        chunk = stream.read(min(CHUNK, length - len(data)))
        if not chunk:
            raise malformed("body shorter than announced")
        data += chunk
    return bytes(data)


class _EtagMismatch(ValueError):
    pass


def _checked_chunks(stream, length: int, expected_etag: str | None):
    """Yield the body from `stream`; raise at the end when its MD5 is not the ETag."""
    md5 = hashlib.md5(usedforsecurity=False)
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(CHUNK, remaining))
        if not chunk:
            raise malformed("body shorter than announced")
        md5.update(chunk)
        remaining -= len(chunk)
        yield chunk
    if expected_etag is not None and md5.hexdigest() != expected_etag.strip('"'):
        raise _EtagMismatch("body does not match the metadata's ETag")


def _sync(request, manager, reclaim_age) -> Response:
    device, part, obj_hash, name = parse_path(request.environ.get("PATH_INFO", ""), 4, 4)
    if not _HASH_RE.match(obj_hash):
        raise malformed("bad object hash")
    parsed = parse_filename(name)
    if parsed is None:
        raise malformed("bad object file name")
    try:
        meta_length = int(request.headers[METADATA_LENGTH_HEADER])
        total = int(request.headers["Content-Length"])
    except (KeyError, ValueError):
        raise malformed(f"{METADATA_LENGTH_HEADER} and Content-Length required") from None
    if not 0 < meta_length <= min(total, MAX_METADATA):
        raise malformed(f"bad {METADATA_LENGTH_HEADER}")
    if manager.device_path(device) is None:
        raise HTTPError(507, f"device {device} unavailable")
    stream = request.environ["wsgi.input"]
    try:
        metadata = unpack_metadata(_read_exact(stream, meta_length))
    except MetadataError as exc:
        raise malformed(str(exc)) from None
    body_length = total - meta_length
    target_dir = manager.hash_dir_path(device, part, obj_hash)
    if os.path.exists(os.path.join(target_dir, name)):
        drain(stream, body_length)
        return text_response(200, "already present")
    etag = metadata.get("ETag", "") if parsed[1] == ".data" else None
    chunks = _checked_chunks(stream, body_length, etag)
    try:
        manager.write_replicated(device, part, obj_hash, name, metadata, chunks)
    except _EtagMismatch as exc:
        raise HTTPError(422, str(exc)) from None
    except ValueError as exc:
        drain(stream, body_length)
        raise malformed(str(exc)) from None
    verdict = cleanup_ondisk_files(target_dir, reclaim_age)
    if name not in verdict.live:
        raise HTTPError(409, "obsolete: a newer file exists")
    return text_response(201, "stored")

