"""Container/account database replication over HTTP: the receiving side and the wire format.

Served by the container and account servers at `REPLICATE /<dev>/<part>/<hash>` with
`X-Backend-Replication: true`; `X-Backend-Replicate-Op` says what the request is:

* `sync` — msgpack body {"id", "put_timestamp", "delete_timestamp", "metadata", "max_row"}
  (the sender's info). 404 when this node has no replica (the sender then copies it whole).
  Otherwise the receiver merges the timestamps and metadata (newest wins) and answers msgpack
  {"id": its id, "point": last row of the sender's it has merged (-1: none), "max_row"}.
* `merge_items` — msgpack body {"source": sender id, "items": [row dicts with ROWID]}:
  rows merged newest-wins, the sender's incoming sync point raised in the same transaction.
  Answers {"changed": N, "point": new sync point}.
* `copy` — the body is a consistent SQLite snapshot of the sender's replica
  (`X-Backend-Source-Id`: its id). Written to a temp file beside the target, fsynced, checked
  (`PRAGMA quick_check`), then hard-linked into place unless a replica appeared meanwhile
  (409); the copy gets its own id and remembers that it holds all of the source's rows. 201.

Errors are `common.http_errors.HTTPError`s, answered as one line of text by the server's
error middleware: 400 malformed, 404 no replica (sync/merge), 409 a replica already exists
(copy), 507 missing device, 500 when the disk or SQLite fails.
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import uuid

import msgpack
from webob import Response

from common.http_errors import HTTPError
from storage.backend_common import is_partition
from storage.databases.broker import DatabaseNotFound, db_path, fsync_dir, makedirs_durable
from storage.replication.wire import (
    CHUNK,
    OP_HEADER,
    drain,
    msgpack_response,
    text_response,
    valid_device_name,
)

SOURCE_HEADER = "X-Backend-Source-Id"
MAX_MSG = 64 * 1024 * 1024
_HASH_RE = re.compile(r"^[0-9a-f]{32}$")


def malformed(reason: str) -> HTTPError:
    """The 400 of a malformed replication request; `reason` is its body."""
    return HTTPError(400, reason)


def replicate_path(device: str, part: int, db_hash: str) -> str:
    return f"/{device}/{part}/{db_hash}"


def _parse(path: str) -> tuple[str, str, str]:
    parts = path.strip("/").split("/")
    if len(parts) != 3:
        raise malformed("expected /<device>/<partition>/<hash>")
    device, part, db_hash = parts
    if not valid_device_name(device):
        raise malformed("bad device name")
    if not is_partition(part):
        raise malformed("bad partition")
    if not _HASH_RE.match(db_hash):
        raise malformed("bad database hash")
    return device, part, db_hash


def _message(request) -> dict:
    length = request.content_length or 0
    if not 0 < length <= MAX_MSG:
        raise malformed("missing or oversized body")
    try:
        value = msgpack.unpackb(request.body_file.read(length), raw=False)
    except Exception:  # msgpack raises several unrelated types on garbage
        raise malformed("undecodable msgpack body") from None
    if not isinstance(value, dict):
        raise malformed("body must be a msgpack map")
    return value


def install(app) -> None:
    """Serve `REPLICATE` on a `storage.databases.server_base.DBServerApp` (container or account)."""
    app.handlers["REPLICATE"] = lambda req: handle_db_replication(
        req, app.devices, app.broker_class, app.mount_check, app.broker_at
    )


def handle_db_replication(request, devices: str, broker_class, mount_check: bool = False,
                          broker_factory=None):
    """webob Request -> Response for `REPLICATE` on a container or account server;
    HTTPError for any refusal.

    `broker_factory(path)` builds brokers (default `broker_class(path)`), so a server can use
    its own connection cache.
    """
    broker_factory = broker_factory or broker_class
    if request.method != "REPLICATE":
        raise HTTPError(405, "method not allowed")
    try:
        device, part, db_hash = _parse(request.environ.get("PATH_INFO", ""))
        dev_path = os.path.join(devices, device)
        if not os.path.isdir(dev_path) or (mount_check and not os.path.ismount(dev_path)):
            raise HTTPError(507, f"device {device} unavailable")
        path = db_path(devices, device, broker_class.kind, part, db_hash)
        op = request.headers.get(OP_HEADER, "")
        if op == "copy":
            return _receive_copy(request, path, broker_factory)
        if op not in ("sync", "merge_items"):
            raise malformed(f"unknown {OP_HEADER}: {op!r}")
        message = _message(request)
        broker = broker_factory(path)
        if not broker.exists():
            raise HTTPError(404, "no such database")
        try:
            if op == "sync":
                return msgpack_response(_sync(broker, message))
            return msgpack_response(_merge(broker, message))
        except DatabaseNotFound:
            raise HTTPError(404, "no such database") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed(f"malformed replication message: {exc}") from None
    except (OSError, sqlite3.Error) as exc:
        raise HTTPError(500, f"replication failed: {exc}") from None


def _sync(broker, message: dict) -> dict:
    remote_id = str(message["id"])
    if message.get("put_timestamp"):
        broker.update_put_timestamp(message["put_timestamp"])
    if message.get("delete_timestamp"):
        broker.mark_deleted(message["delete_timestamp"])
    metadata = message.get("metadata") or {}
    if metadata:
        broker.merge_metadata({k: tuple(v) for k, v in metadata.items()})
    info = broker.get_info()
    return {"id": info["id"], "point": broker.get_sync(remote_id), "max_row": info["max_row"]}


def _merge(broker, message: dict) -> dict:
    source = str(message["source"])
    items = message["items"]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise malformed("items must be a list of maps")
    changed = broker.merge_items(items, source_id=source)
    return {"changed": changed, "point": broker.get_sync(source)}


def _receive_copy(request, path, broker_factory) -> Response:
    source_id = request.headers.get(SOURCE_HEADER, "")
    length = request.content_length
    if not source_id or not length:
        raise malformed(f"{SOURCE_HEADER} and a body are required")
    if os.path.exists(path):
        drain(request.body_file, length)
        raise HTTPError(409, "a replica already exists")
    directory = os.path.dirname(path)
    makedirs_durable(directory)
    tmp_path = os.path.join(directory, f".{uuid.uuid4().hex}.copy.db")
    try:
        with open(tmp_path, "wb") as handle:
            remaining = length
            while remaining > 0:
                chunk = request.body_file.read(min(CHUNK, remaining))
                if not chunk:
                    raise malformed("body shorter than announced")
                handle.write(chunk)
                remaining -= len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        check = sqlite3.connect(tmp_path)
        try:
            ok = check.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError:
            ok = False
        finally:
            check.close()
        if not ok:
            raise malformed("the copy is not a sound SQLite database")
        try:
            os.link(tmp_path, path)
        except FileExistsError:
            raise HTTPError(409, "a replica already exists") from None
        fsync_dir(directory)
    finally:
        for leftover in (tmp_path, tmp_path + "-wal", tmp_path + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    broker = broker_factory(path)
    broker.reset_id(source_id=source_id)
    return text_response(201, "copied")

