"""Which bridges this datapath created: `<state_dir>/bridges.json`, a sorted name list.

Removal deletes only bridges named here, never another bridge of the node. The record is
widened before bridges are created and narrowed after stale ones are deleted, so a crash in
between leaves nothing the next apply does not know about.
"""
from __future__ import annotations

import json
import os

from common.atomic_files import write_atomic


def _path(state_dir: str) -> str:
    return os.path.join(state_dir, "bridges.json")


def read_bridges(state_dir: str) -> set[str]:
    try:
        with open(_path(state_dir), encoding="utf-8") as handle:
            return set(json.load(handle))
    except FileNotFoundError:
        return set()


def write_bridges(state_dir: str, names: set[str]) -> None:
    write_atomic(_path(state_dir), json.dumps(sorted(names)), mode=0o644)
