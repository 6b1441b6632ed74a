"""Backups into the object store and restores from it: the IO around `volume.backup_format`.

`BackupStore.write(...)` reads a volume file chunk by chunk (one chunk in memory at a
time), PUTs each non-zero chunk as a compressed object of the project's backup container,
then the metadata object last: a backup whose metadata object exists is complete.
`restore(...)` reads the metadata, fetches and checks each chunk (SHA-256 per chunk, then
the whole volume's) and writes it at its offset into a temporary file that the caller
renames over the target only when everything matched. `delete(...)` removes the objects.
The store is `common.object_store.ObjectStore`, as the volume service's own user.
"""
from __future__ import annotations

import hashlib
import os

from common.http_client import HTTPClientError
from common.object_store import ObjectStore
from volume import backup_format
from volume.backup_format import BackupFormatError


class BackupError(Exception):
    """A backup or restore failed; the message is the backup's `fail_reason`."""


class BackupStore:
    def __init__(self, store: ObjectStore, chunk_size: int):
        self.store = store
        self.chunk_size = chunk_size

    def write(self, backup: dict, volume_path: str, size_gb: int, created_at: str,
              pause=lambda: None) -> tuple[int, str]:
        """Back up `volume_path`; returns (objects written, SHA-256 of the volume)."""
        prefix, container = backup["object_prefix"], backup["container"]
        size = os.path.getsize(volume_path)
        whole = hashlib.sha256()
        entries, count = [], 0
        try:
            self.store.ensure_container(container)
            with open(volume_path, "rb") as handle:
                for chunk in backup_format.plan(size, self.chunk_size):
                    handle.seek(chunk.offset)
                    data = handle.read(chunk.length)
                    whole.update(data)
                    entry, body = backup_format.encode_chunk(prefix, chunk, data)
                    if body is not None:
                        self.store.put_object(container, entry["object"], [body], len(body))
                        count += 1
                    entries.append(entry)
                    pause()
            document = backup_format.metadata(
                backup["id"], backup["volume_id"], size_gb, size, self.chunk_size, entries,
                whole.hexdigest(), created_at)
            self.store.put_object(container, backup_format.metadata_object(prefix),
                                  [document], len(document), "application/json")
        except (HTTPClientError, OSError, BackupFormatError) as exc:
            raise BackupError(f"backup failed: {exc}") from None
        return count + 1, whole.hexdigest()

    def _read(self, container: str, name: str, limit: int) -> bytes:
        response = self.store.get_object(container, name)
        with response:
            data = response.read(limit + 1)
        if len(data) > limit:
            raise BackupFormatError(f"object {name} is larger than the backup says")
        return data

    def restore(self, backup: dict, temp_path: str, pause=lambda: None) -> None:
        """Write the backup's bytes into `temp_path` (a sparse file at least its size)."""
        prefix, container = backup["object_prefix"], backup["container"]
        try:
            raw = self._read(container, backup_format.metadata_object(prefix),
                             backup_format.MAX_METADATA)
            doc = backup_format.parse_metadata(raw, backup["id"], prefix)
            if backup.get("sha256") and doc["sha256"] != backup["sha256"]:
                raise BackupFormatError("metadata checksum differs from the backup record")
            if os.path.getsize(temp_path) < doc["size_bytes"]:
                raise BackupFormatError("the target volume is smaller than the backup")
            whole = hashlib.sha256()
            with open(temp_path, "rb+") as handle:
                for entry in doc["chunks"]:
                    body = None
                    if entry["object"] is not None:
                        body = self._read(container, entry["object"],
                                          entry["compressed_length"])
                    data = backup_format.decode_chunk(entry, body)
                    whole.update(data)
                    if entry["object"] is not None:  # zeros: the sparse file has them
                        handle.seek(entry["offset"])
                        handle.write(data)
                    pause()
            if whole.hexdigest() != doc["sha256"]:
                raise BackupFormatError("the restored volume's checksum does not match")
        except (HTTPClientError, OSError, BackupFormatError) as exc:
            raise BackupError(f"restore failed: {exc}") from None

    def delete(self, backup: dict) -> None:
        container = backup["container"]
        for name in self.store.list_objects(container, backup["object_prefix"]):
            self.store.delete_object(container, name)
