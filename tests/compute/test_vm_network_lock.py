"""Agents sharing a node's datapath read the network service and apply under one lock.

Two agents of one host (the all-in-one runs two) apply the same datapath. If one could read
the network service, then wait for the other's apply, then apply what it read, it would
undo the other's newer state: a bridge made for a port just bound would be deleted with the
guest's NIC on it. These tests hold the real file lock (`Datapath.exclusive`) with two
`NodeNetwork`s on one state dir; only the kernel side of the apply is recorded instead of
run (it needs a network namespace; tests/network/datapath runs it for real).
"""
from __future__ import annotations

import os
import threading

from compute.vm_network import NodeNetwork
from network.datapath.node import Datapath


class RecordingDatapath(Datapath):
    """The real lock; the apply only noted in `events`."""

    def __init__(self, state_dir, name, events):
        super().__init__(state_dir)
        self.name = name
        self.events = events

    def apply_held(self, state):
        self.events.append(f"{self.name} applies")


class ServiceReads:
    """The network service as an agent's client reads it; `networks` may be held back."""

    def __init__(self, name, events, hold: threading.Event | None = None,
                 reading: threading.Event | None = None):
        self.name, self.events, self.hold, self.reading = name, events, hold, reading

    def networks(self, token):
        self.events.append(f"{self.name} reads")
        if self.reading is not None:
            self.reading.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        return [{"id": self.name}]

    def subnets(self, token):
        return []

    def ports(self, token):
        return []

    def security_groups(self, token):
        return []

    def floatingips(self, token):
        return []


class ServiceSession:
    def token(self):
        return "service-token"

    def forget(self):
        pass


def node_network(state_dir, name, events, **reads):
    return NodeNetwork(name, ServiceReads(name, events, **reads), ServiceSession(),
                       RecordingDatapath(state_dir, name, events))


def made_before(state_dir):
    """A datapath that once made bridges (so an empty state is still applied)."""
    os.makedirs(state_dir, exist_ok=True)
    with open(os.path.join(state_dir, "bridges.json"), "w", encoding="utf-8") as handle:
        handle.write("[]")


def test_a_second_agent_reads_only_after_the_first_applied(tmp_path):
    state_dir = str(tmp_path / "datapath")
    made_before(state_dir)
    events: list[str] = []
    hold, reading = threading.Event(), threading.Event()
    first = node_network(state_dir, "first", events, hold=hold, reading=reading)
    second = node_network(state_dir, "second", events)
    first_sync = threading.Thread(target=first.sync)
    first_sync.start()
    assert reading.wait(10)
    second_sync = threading.Thread(target=second.sync)
    second_sync.start()
    try:
        second_sync.join(0.5)
        assert second_sync.is_alive() and events == ["first reads"], events
    finally:
        hold.set()
    first_sync.join(10)
    second_sync.join(10)
    assert events == ["first reads", "first applies", "second reads", "second applies"]


def test_the_lock_is_free_after_a_failed_read(tmp_path):
    state_dir = str(tmp_path / "datapath")
    made_before(state_dir)
    events: list[str] = []

    class Failing(ServiceReads):
        def networks(self, token):
            raise RuntimeError("service down")

    failing = NodeNetwork("first", Failing("first", events), ServiceSession(),
                          RecordingDatapath(state_dir, "first", events))
    try:
        failing.sync()
    except RuntimeError:
        pass
    node_network(state_dir, "second", events).sync()
    assert events == ["second reads", "second applies"]
