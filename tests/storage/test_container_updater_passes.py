"""Which container databases a container updater's pass opens: real SQLite replicas; the
account servers' side is a stand-in that records each report and answers as told.

A database found with nothing due is not opened again until its files change; a report that
failed is sent again by the next pass.
"""
from __future__ import annotations

import os

import pytest

from storage.daemons import container_updater
from storage.daemons.container_updater import ContainerUpdater
from storage.databases.broker import db_path
from storage.databases.container_db import ContainerBroker


def ts(n) -> str:
    return f"{n:010d}.00000"


class LocalRing:
    partition_count = 1024

    def get_part_nodes(self, part: int) -> list[dict]:
        return [{"ip": "127.0.0.1", "port": 6201, "device": "sda"}]

    def get_nodes(self, account: str):
        return 3, [{"ip": "127.0.0.1", "port": 6202, "device": "sda"}]


class LocalNode:
    conn_timeout = node_timeout = 1.0
    backend_auth = None

    def __init__(self, devices: str):
        self.devices = devices

    def ring(self, name: str) -> LocalRing:
        return LocalRing()

    def local_devices(self) -> list[str]:
        return ["sda"]

    def is_local(self, node: dict) -> bool:
        return True


@pytest.fixture
def updater(tmp_path, monkeypatch):
    reports, opened = [], []
    answers = {"ok": True}

    def report_to_account(nodes, account, container, info, *args):
        reports.append((container, info["object_count"]))
        return answers["ok"]

    real_get_info = ContainerBroker.get_info

    def get_info(self):
        opened.append(os.path.basename(os.path.dirname(self.db_path)))
        return real_get_info(self)

    monkeypatch.setattr(container_updater, "report_to_account", report_to_account)
    monkeypatch.setattr(ContainerBroker, "get_info", get_info)
    os.makedirs(tmp_path / "sda")
    brokers = {}
    for name, digest in (("c1", "a" * 32), ("c2", "b" * 32)):
        brokers[name] = ContainerBroker(db_path(str(tmp_path), "sda", "containers", 7, digest))
        assert brokers[name].create("AUTH_test", name, ts(1))
    daemon = ContainerUpdater(LocalNode(str(tmp_path)), {"containers_per_second": 0})

    def one_pass():
        reports.clear()
        opened.clear()
        daemon.run_once()
        return sorted(reports), sorted(opened)

    return one_pass, brokers, answers


def test_databases_with_nothing_due_are_not_opened_until_they_change(updater):
    one_pass, brokers, answers = updater
    reports, opened = one_pass()
    assert reports == [("c1", 0), ("c2", 0)] and len(opened) == 2
    # the reports were marked (a write): opened once more, nothing due
    assert one_pass() == ([], sorted(opened))
    assert one_pass() == ([], [])
    brokers["c1"].put_object("o", ts(2), 5, "text/plain", "etag")
    reports, opened = one_pass()
    assert reports == [("c1", 1)] and opened == ["a" * 32]
    assert one_pass() == ([], ["a" * 32])
    assert one_pass() == ([], [])


def test_a_failed_report_is_sent_again(updater):
    one_pass, brokers, answers = updater
    answers["ok"] = False
    assert one_pass()[0] == [("c1", 0), ("c2", 0)]
    assert one_pass()[0] == [("c1", 0), ("c2", 0)]
    answers["ok"] = True
    assert one_pass()[0] == [("c1", 0), ("c2", 0)]
    one_pass()
    assert one_pass() == ([], [])
