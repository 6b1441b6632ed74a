"""Loads the node's ruleset with `nft -f`: one transaction, both tables replaced whole."""
from __future__ import annotations

import os

from common.atomic_files import write_atomic
from network.datapath.runner import Runner


def load_ruleset(runner: Runner, text: str, state_dir: str) -> None:
    """Keep the text as `<state_dir>/ruleset.nft` (for inspection) and load it."""
    path = os.path.join(state_dir, "ruleset.nft")
    write_atomic(path, text, mode=0o644)
    runner.run(["nft", "-f", path])
