"""File helpers of the compute agent: durable line appends and bounded reads of a log's tail.

Whole-file atomic writes are `common.atomic_files.write_atomic`.
"""
from __future__ import annotations

import os

TAIL_CHUNK = 65536
MAX_TAIL_BYTES = 1024 * 1024


def append_line(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def tail_lines(path: str, length: int | None) -> str:
    """The last `length` lines of a text file (all, when None), reading at most 1 MiB."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - MAX_TAIL_BYTES)
            data = b""
            position = size
            while position > start:
                step = min(TAIL_CHUNK, position - start)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
                if length is not None and data.count(b"\n") > length:
                    break
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace")
    if position > 0:
        text = text.split("\n", 1)[-1]  # drop a partial first line
    if length is None:
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-length:]) if length > 0 else ""
