"""File helpers of the compute agent: atomic writes and bounded reads of a log's last lines."""
from __future__ import annotations

import os
import tempfile

TAIL_CHUNK = 65536
MAX_TAIL_BYTES = 1024 * 1024


def write_atomic(path: str, data: bytes) -> None:
    """temp file → fsync → rename, then fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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
