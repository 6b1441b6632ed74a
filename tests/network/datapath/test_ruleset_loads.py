"""Every planned ruleset is one the kernel accepts: loaded with `nft -f` in a test namespace."""
from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings

from network.datapath.model import NodeState
from network.datapath.ruleset import render_ruleset
from tests.network.datapath.netns_support import Netns, missing_binaries
from tests.network.datapath.strategies import node_states


@pytest.fixture(scope="module")
def netns():
    assert not missing_binaries() and os.geteuid() == 0, (
        f"needs root and {missing_binaries()} (./install.sh installs them)")
    handle = Netns()
    try:
        yield handle
    finally:
        handle.delete()


def _load(netns: Netns, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".nft") as handle:
        handle.write(text)
        handle.flush()
        result = netns.run("nft", "-f", handle.name, check=False)
    assert result.returncode == 0, result.stderr + text


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node_states())
def test_planned_rulesets_load_and_replace_each_other(netns, state):
    _load(netns, render_ruleset(state))
    listed = netns.run("nft", "list", "table", "inet", "brume").stdout
    for port in state.ports:
        assert f"chain in-{port.tap}" in listed
    _load(netns, render_ruleset(NodeState()))
    assert netns.run("nft", "list", "ruleset").stdout.strip() == ""
