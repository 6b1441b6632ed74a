"""The agent's per-node cache of image bytes pulled from the image service.

`ImageCache.fetch(image_meta)` returns the path of the image's cached base file, streaming it
from the image service on first use into `<cache_dir>/<image id>` while checking its size and
MD5 checksum against the registry's. Bytes go temp file → fsync → rename, so a cached file is
always whole and verified; a mismatch raises `ImageFetchError` (the build fails with that
fault) and leaves nothing behind. Concurrent builds of one image share a single download
(single-flight per image id); every completed download is counted in `downloads.json`.

`discard(image_id)` deletes one base at once (the agent found it unsafe before a boot).
`remove_unused(in_use, max_age)` deletes bases not used for `max_age` seconds and not in
`in_use` (the image ids that existing instances' disks rely on). The HTTP side is a
`stream_opener(image_meta) -> iterable of bytes chunks`, injected so the cache logic is
testable without a network.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable

from common.atomic_files import write_atomic

CHUNK = 1024 * 1024


class ImageFetchError(Exception):
    """The image could not be pulled or did not verify; the message is a server fault.

    `retry` is False when another host would fail the same way (the stored bytes do not
    match the image's size or checksum), so the build is not rescheduled.
    """

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


StreamOpener = Callable[[dict], Iterable[bytes]]


class ImageCache:
    def __init__(self, cache_dir: str, stream_opener: StreamOpener):
        self.cache_dir = cache_dir
        self.stream_opener = stream_opener
        self._guard = threading.Lock()
        self._image_locks: dict[str, threading.Lock] = {}
        os.makedirs(cache_dir, exist_ok=True)

    # paths and counters ---------------------------------------------------------------
    def path_for(self, image_id: str) -> str:
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ImageFetchError(f"invalid image id {image_id!r}")
        return os.path.join(self.cache_dir, image_id)

    def _stats_path(self) -> str:
        return os.path.join(self.cache_dir, "downloads.json")

    def download_counts(self) -> dict[str, int]:
        try:
            with open(self._stats_path(), encoding="utf-8") as handle:
                return json.load(handle)
        except (FileNotFoundError, ValueError):
            return {}

    def _count_download(self, image_id: str) -> None:
        with self._guard:
            counts = self.download_counts()
            counts[image_id] = counts.get(image_id, 0) + 1
            write_atomic(self._stats_path(), json.dumps(counts, sort_keys=True).encode())

    def _lock_for(self, image_id: str) -> threading.Lock:
        with self._guard:
            return self._image_locks.setdefault(image_id, threading.Lock())

    # fetching --------------------------------------------------------------------------
    def fetch(self, image_meta: dict) -> str:
        """Path of the verified cached base of `image_meta`, downloading it if needed."""
        image_id = image_meta.get("id") or ""
        path = self.path_for(image_id)
        with self._lock_for(image_id):
            if os.path.exists(path):
                os.utime(path)  # last used now
                return path
            self._download(image_meta, path)
            self._count_download(image_id)
            return path

    def _download(self, image_meta: dict, path: str) -> None:
        image_id = image_meta["id"]
        expected_size = image_meta.get("size")
        expected_md5 = image_meta.get("checksum")
        if expected_size is None or not expected_md5:
            raise ImageFetchError(f"image {image_id} has no size/checksum: is it active?",
                                  retry=False)
        tmp = f"{path}.part-{os.getpid()}-{threading.get_ident()}"
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with open(tmp, "wb") as out:
                for chunk in self.stream_opener(image_meta):
                    digest.update(chunk)
                    size += len(chunk)
                    if size > expected_size:
                        break
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size != expected_size:
                raise ImageFetchError(
                    f"image {image_id} size mismatch: expected {expected_size} bytes, "
                    f"got {size}{'+' if size > expected_size else ''}", retry=False,
                )
            if digest.hexdigest() != expected_md5:
                raise ImageFetchError(
                    f"image {image_id} checksum mismatch: expected {expected_md5}, "
                    f"got {digest.hexdigest()}", retry=False,
                )
            os.replace(tmp, path)
        except ImageFetchError:
            raise
        except Exception as exc:  # the stream's own errors (network, auth) end the build
            raise ImageFetchError(f"image {image_id} download failed: {exc}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # cleanup ---------------------------------------------------------------------------
    def discard(self, image_id: str) -> bool:
        """Delete the cached base of `image_id` now; True if there was one."""
        path = self.path_for(image_id)
        with self._lock_for(image_id):
            try:
                os.unlink(path)
            except FileNotFoundError:
                return False
        return True

    def cached_ids(self) -> list[str]:
        return sorted(
            name
            for name in os.listdir(self.cache_dir)
            if not name.startswith(".") and ".part-" not in name and name != "downloads.json"
        )

    def remove_unused(self, in_use: set[str], max_age: float, now: float | None = None) -> list:
        """Delete bases unused for `max_age` seconds and not in `in_use`; return their ids."""
        now = time.time() if now is None else now
        removed = []
        for image_id in self.cached_ids():
            if image_id in in_use:
                continue
            path = os.path.join(self.cache_dir, image_id)
            with self._lock_for(image_id):
                try:
                    if now - os.stat(path).st_mtime < max_age:
                        continue
                    os.unlink(path)
                except FileNotFoundError:
                    continue
            removed.append(image_id)
        return removed
