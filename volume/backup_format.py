"""How a backup lies in the object store, with no IO: chunk plan, object names, metadata.

Modelled on Cinder's Swift backup driver: a volume is read in chunks of `chunk_size`
bytes; each chunk that is not all zeros is stored zlib-compressed as its own object
`<prefix>-<index:05d>`, and a metadata object `<prefix>_metadata` (JSON) lists every chunk:
offset, length, SHA-256 of its bytes, and the name and compressed length of its object
(`null` for a chunk of zeros, which needs no object). The metadata also carries the
volume's size and the SHA-256 of the whole volume, so a restore verifies each chunk as it
arrives and the whole volume at the end. The prefix is `volume_<volume id>/backup_<backup
id>`, in a container of the project's own (`<container>_<project id>`).
"""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass

FORMAT_VERSION = "1.0.0"
MAX_METADATA = 16 * 1024 * 1024


class BackupFormatError(Exception):
    """Backup metadata or a chunk is not what the backup says it is."""


@dataclass(frozen=True)
class Chunk:
    index: int
    offset: int
    length: int


def container_name(base: str, project_id: str) -> str:
    return f"{base}_{project_id}"


def object_prefix(volume_id: str, backup_id: str) -> str:
    return f"volume_{volume_id}/backup_{backup_id}"


def chunk_object(prefix: str, index: int) -> str:
    return f"{prefix}-{index + 1:05d}"


def metadata_object(prefix: str) -> str:
    return f"{prefix}_metadata"


def plan(size_bytes: int, chunk_size: int) -> list[Chunk]:
    """The chunks covering `size_bytes` bytes, in order."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    return [Chunk(index, offset, min(chunk_size, size_bytes - offset))
            for index, offset in enumerate(range(0, size_bytes, chunk_size))]


def is_zero(data: bytes) -> bool:
    return not data.strip(b"\0")


def encode_chunk(prefix: str, chunk: Chunk, data: bytes) -> tuple[dict, bytes | None]:
    """(its metadata entry, the object body or None for a zero chunk) of one chunk's bytes."""
    if len(data) != chunk.length:
        raise BackupFormatError(f"chunk {chunk.index}: read {len(data)} bytes, expected "
                                f"{chunk.length}")
    entry = {"offset": chunk.offset, "length": chunk.length,
             "sha256": hashlib.sha256(data).hexdigest(), "object": None,
             "compressed_length": 0}
    if is_zero(data):
        return entry, None
    body = zlib.compress(data, 1)
    entry.update(object=chunk_object(prefix, chunk.index), compressed_length=len(body))
    return entry, body


def decode_chunk(entry: dict, body: bytes | None) -> bytes:
    """The chunk's bytes from its object body (None: a zero chunk), checked by SHA-256."""
    if entry["object"] is None:
        data = bytes(entry["length"])
    else:
        if body is None or len(body) != entry["compressed_length"]:
            raise BackupFormatError(f"object {entry['object']}: wrong length")
        try:
            data = zlib.decompress(body)
        except zlib.error as exc:
            raise BackupFormatError(f"object {entry['object']}: {exc}") from None
    if len(data) != entry["length"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BackupFormatError(f"chunk at offset {entry['offset']}: checksum mismatch")
    return data


def metadata(backup_id: str, volume_id: str, size_gb: int, size_bytes: int, chunk_size: int,
             entries: list[dict], volume_sha256: str, created_at: str) -> bytes:
    return json.dumps({
        "version": FORMAT_VERSION, "backup_id": backup_id, "volume_id": volume_id,
        "volume_size": size_gb, "size_bytes": size_bytes, "chunk_size": chunk_size,
        "compression": "zlib", "created_at": created_at, "sha256": volume_sha256,
        "chunks": entries,
    }, sort_keys=True).encode("utf-8")


def _int(doc: dict, key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BackupFormatError(f"metadata: bad {key}")
    return value


def parse_metadata(raw: bytes, backup_id: str, prefix: str) -> dict:
    """The metadata object's document, checked: its chunks cover the volume exactly, in
    order, and name only this backup's objects."""
    if len(raw) > MAX_METADATA:
        raise BackupFormatError("metadata object too large")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise BackupFormatError("metadata is not JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION \
            or doc.get("backup_id") != backup_id:
        raise BackupFormatError("metadata names another backup or format")
    size = _int(doc, "size_bytes")
    _int(doc, "volume_size")
    chunks = doc.get("chunks")
    if not isinstance(chunks, list) or not isinstance(doc.get("sha256"), str):
        raise BackupFormatError("metadata: bad chunks or checksum")
    offset = 0
    for index, entry in enumerate(chunks):
        if not isinstance(entry, dict) or _int(entry, "offset") != offset \
                or _int(entry, "length") == 0 or not isinstance(entry.get("sha256"), str):
            raise BackupFormatError(f"metadata: bad chunk {index}")
        _int(entry, "compressed_length")
        if entry.get("object") not in (None, chunk_object(prefix, index)):
            raise BackupFormatError(f"metadata: chunk {index} names a foreign object")
        offset += entry["length"]
    if offset != size:
        raise BackupFormatError("metadata: chunks do not cover the volume")
    return doc
