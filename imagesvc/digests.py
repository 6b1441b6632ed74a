"""Size, MD5 and SHA-512 of an image as its bytes stream past, plus its last bytes.

Hashing is most of the image service's CPU per byte. Under eventlet (the running service)
the bytes are hashed in batches by two native threads (a `common.blocking_calls` pool;
hashlib releases the GIL on large buffers): MD5 and SHA-512 of batch N run in parallel with
each other and with the reading and sending of batch N+1, while at most two batches (2 MiB)
are held. Without eventlet's monkey patching (in-process tests) hashing happens inline.
"""
from __future__ import annotations

import hashlib

from common.blocking_calls import BlockingCallPool
from common.image_formats.format_inspect import TAIL_SIZE

BATCH_BYTES = 1024 * 1024
_hashing_pool: BlockingCallPool | None = None  # the process's, made on first offload


def _offload_possible() -> bool:
    from common.green import eventlet

    return eventlet.patcher.is_monkey_patched("thread")


def _pool() -> BlockingCallPool:
    global _hashing_pool
    if _hashing_pool is None:
        _hashing_pool = BlockingCallPool(2)  # one thread per digest
    return _hashing_pool


def _feed(digest, chunks: list[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)


class StreamDigests:
    def __init__(self, offload: bool | None = None):
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.size = 0
        self.tail = b""
        self.offload = _offload_possible() if offload is None else offload
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._running: list = []

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if len(chunk) >= TAIL_SIZE:
            self.tail = chunk[-TAIL_SIZE:]
        else:
            self.tail = (self.tail + chunk)[-TAIL_SIZE:]
        if not self.offload:
            self.md5.update(chunk)
            self.sha512.update(chunk)
            return
        self._batch.append(chunk)
        self._batch_bytes += len(chunk)
        if self._batch_bytes >= BATCH_BYTES:
            self._submit()

    def _submit(self) -> None:
        self._wait()
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        pool = _pool()
        self._running = [pool.submit(_feed, digest, batch) for digest in (self.md5, self.sha512)]

    def _wait(self) -> None:
        running, self._running = self._running, []
        for call in running:
            call.result()

    def finish(self) -> None:
        """Hash whatever is still batched; call before reading the digests."""
        if self._batch:
            self._submit()
        self._wait()

    @property
    def md5_hex(self) -> str:
        self.finish()
        return self.md5.hexdigest()

    @property
    def sha512_hex(self) -> str:
        self.finish()
        return self.sha512.hexdigest()
