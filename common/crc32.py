"""CRC32 with zlib's polynomial and values, at memory speed: ISA-L's (python-isal).

Every object body carries a CRC32 per 64 KiB block, computed by the proxy for a PUT's footer,
again by each object server as it writes (to check the footer), and again before every
block of a GET leaves an object server. zlib's `crc32` (table-driven) ran at about 4.4 GB/s
on this project's machine; ISA-L's (carry-less multiplication, PCLMULQDQ) at about 45 GB/s on
the same 64 KiB blocks, with identical results, so the stored tables stay what they were.
`crc32(data, value=0)` takes the same arguments as `zlib.crc32`.
"""
from __future__ import annotations

from isal.isal_zlib import crc32

__all__ = ["crc32"]
