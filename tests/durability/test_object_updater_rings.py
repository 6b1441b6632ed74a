"""The object updater without a container ring, and with a broken one, as a real `--once` pass.

No ring (a node set up before its rings) is expected: each async pending goes to the container
replica the object server recorded. A ring file that cannot be read is an error: the pass
fails and says why, and no update is sent to possibly wrong nodes.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from common.timestamp import Timestamp
from storage.objects.async_pending import write_async_pending

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def node(tmp_path):
    (tmp_path / "brume.conf").write_text(
        "[cluster]\nhash_path_prefix = p\nhash_path_suffix = s\n")
    devices = tmp_path / "node"
    (devices / "d1").mkdir(parents=True)
    conf = tmp_path / "daemons.conf"
    conf.write_text(f"[daemons]\ndevices = {devices}\nconf_dir = {tmp_path}\n")
    now = Timestamp.now().normal
    pending = write_async_pending(str(devices / "d1"), "a" * 32, now, {
        "op": "PUT", "account": "AUTH_a", "container": "c", "obj": "o",
        "headers": {"X-Timestamp": now, "X-Size": "1", "X-Content-Type": "text/plain",
                    "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"},
        "container_node": {"host": f"127.0.0.1:{closed_port()}", "device": "d1",
                           "partition": 3},
    })
    return tmp_path, conf, pending


def updater_pass(conf) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "storage.daemons.runner", str(conf), "--once", "object-updater"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_a_ring_the_recorded_replica_is_tried(node):
    _conf_dir, conf, pending = node
    record = updater_pass(conf)
    assert record["status"] == "ok", record
    # sent to the recorded node, which is down: kept for the next pass
    assert record["counts"]["async_pending"] == 1 and record["counts"]["failures"] == 1
    assert os.path.exists(pending)


def test_a_broken_ring_fails_the_pass(node):
    conf_dir, conf, pending = node
    (conf_dir / "container.ring.gz").write_bytes(b"not a ring at all")
    record = updater_pass(conf)
    assert record["status"] == "failed" and "container.ring.gz" in record["error"], record
    assert os.path.exists(pending)
