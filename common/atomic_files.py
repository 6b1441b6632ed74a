"""Durable whole-file writes: temp file → fsync → rename → fsync of the directory.

`write_atomic` replaces a file so that a reader (or a crash) sees either the old content or
the new, never a torn mix, and the new content survives a crash once it returns.
`fsync_dir` makes a directory's new or renamed entries durable; `makedirs_durable` creates
missing directories and fsyncs the parent of each one it created, and `make_missing_dirs` +
`fsync_parents` do the same in two steps, so a writer can put its fsyncs in between.
"""
from __future__ import annotations

import os
import tempfile


def fsync_dir(path: str) -> None:
    """fsync a directory, so entries created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Walks of `makedirs_durable` before giving up on a parent that keeps disappearing.
MAKEDIRS_ATTEMPTS = 3


def makedirs_durable(path: str) -> None:
    """Like os.makedirs(path, exist_ok=True), but each new directory's entry is fsynced."""
    fsync_parents(make_missing_dirs(path))


def make_missing_dirs(path: str) -> list[str]:
    """Like os.makedirs(path, exist_ok=True), without any fsync: the directories it made.

    Their entries become durable only once `fsync_parents` has been called on the result.
    A writer that makes a file's directories before fsyncing the file lets a journaled ext4
    put the `mkdir`s in the journal commit of that fsync, so `fsync_parents` afterwards
    finds them committed, where making them after costs a journal commit of their own.

    Another process may remove an empty directory at any moment (the object server's
    cleanup and the replicators' suffix hashing remove empty hash and suffix directories):
    a parent that vanishes between the check and the `mkdir` is made again, on a fresh walk
    from the top, up to `MAKEDIRS_ATTEMPTS` walks.
    """
    created: list[str] = []
    for _ in range(MAKEDIRS_ATTEMPTS - 1):
        try:
            _make_missing(path, created)
            return created
        except FileNotFoundError:
            continue  # a parent vanished mid-walk: walk again from the top
    _make_missing(path, created)  # the last walk: a vanished parent is the caller's error
    return created


def fsync_parents(directories: list[str]) -> None:
    """fsync the parent of each of `directories` (once each), so their entries survive a crash."""
    for parent in dict.fromkeys(os.path.dirname(directory) for directory in directories):
        fsync_dir(parent)


def _make_missing(path: str, created: list[str]) -> None:
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory)
        except FileExistsError:
            continue  # made meanwhile by someone else, who makes it durable
        created.append(directory)


def write_atomic(path: str, data: bytes | str, mode: int | None = None) -> None:
    """Replace `path` with `data` (str is written as UTF-8) via a temp file in its directory.

    The temp file is fsynced, renamed over `path`, then the directory is fsynced; on any
    error the temp file is removed and the old `path` is left as it was. `mode` sets the
    permission bits (default: mkstemp's 0o600).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    fsync_dir(directory)
