"""Forgets tracked connections of addresses whose policy changed (`conntrack -D`).

The fingerprints of the last applied state are kept in `<state_dir>/policies.json`; see
`network.datapath.conntrack_plan` for what a fingerprint covers.
"""
from __future__ import annotations

import json
import os

from common.atomic_files import write_atomic
from network.datapath.errors import DatapathError
from network.datapath.runner import Runner

NOTHING_DELETED = "0 flow entries have been deleted"


def _path(state_dir: str) -> str:
    return os.path.join(state_dir, "policies.json")


def read_policies(state_dir: str) -> dict[str, str]:
    try:
        with open(_path(state_dir), encoding="utf-8") as handle:
            return dict(json.load(handle))
    except FileNotFoundError:
        return {}


def write_policies(state_dir: str, policies: dict[str, str]) -> None:
    write_atomic(_path(state_dir), json.dumps(policies, sort_keys=True), mode=0o644)


def forget_connections(runner: Runner, addresses: list[str]) -> None:
    """Delete every tracked connection from, to, or answered by each address."""
    for address in addresses:
        for selector in ("--orig-src", "--orig-dst", "--reply-src"):
            try:
                runner.run(["conntrack", "-D", selector, address])
            except DatapathError as exc:
                if NOTHING_DELETED not in exc.detail:
                    raise
