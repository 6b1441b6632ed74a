"""The session-wide all-in-one cluster for tests marked `@pytest.mark.cluster`.

The `cluster` fixture runs `brume up --detach --test-driver` once per test session in a
temporary data dir, on a loopback prefix of its own (127.X.Y., X and Y random) and free
ports, so it never clashes with a developer's cluster or another test session. It yields a
`tests.integration.support.ClusterHandle` (URLs, credentials, tokens, kill/start helpers,
replica locations) and runs `brume down` at the end of the session.

Tests that kill processes must leave the cluster healthy (use `cluster.server_down(...)` /
`cluster.node_down(...)`, which restart what they stopped); the fixture also restarts
anything found dead before each cluster test, so one failing fault test does not sink the
others.
"""
from __future__ import annotations

import os
import random
import shutil
import socket

import pytest

NODES = 4


def port_free(ip: str, port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def pick_ports(prefix: str, rng: random.Random) -> dict[str, int]:
    """A storage base port free (base..base+2) on every node IP, and service ports."""
    service_ip = f"{prefix}1"
    for _ in range(200):
        base = rng.randrange(20000, 40000, 10)
        storage = [(f"{prefix}{n}", base + k) for n in range(1, NODES + 1) for k in range(3)]
        services = [(service_ip, base + 3 + k) for k in range(9)]
        if all(port_free(ip, port) for ip, port in storage + services):
            return {
                "proxy": base + 3,
                "image": base + 4,
                "compute": base + 5,  # agents use compute + 1 and + 2
                "identity": base + 8,
                "network": base + 9,
                "volume": base + 10,
                "dashboard": base + 11,
                "storage": base,
            }
    raise RuntimeError("no free ports found for the test cluster")


def start_cluster(data_dir: str, extra: tuple[str, ...] = ()):
    """`brume up --detach` a fresh cluster in data_dir; returns its ClusterHandle."""
    from tests.integration.support import ClusterHandle, brume

    rng = random.Random()
    prefix = f"127.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}."
    ports = pick_ports(prefix, rng)
    result = brume(
        "up", "--detach", "--test-driver", "--data-dir", data_dir, "--ip-prefix", prefix,
        "--proxy-port", str(ports["proxy"]), "--image-port", str(ports["image"]),
        "--compute-port", str(ports["compute"]), "--storage-port", str(ports["storage"]),
        "--identity-port", str(ports["identity"]), "--network-port", str(ports["network"]),
        "--volume-port", str(ports["volume"]), "--dashboard-port", str(ports["dashboard"]),
        *extra, check=False,
    )
    if result.returncode != 0:
        brume("down", "--data-dir", data_dir, check=False)
        raise RuntimeError(f"brume up failed:\n{result.stdout}\n{result.stderr}")
    return ClusterHandle(data_dir)


def stop_cluster(handle) -> None:
    from tests.integration.support import brume

    brume("down", "--data-dir", handle.data_dir, "--timeout", "10", check=False)


_session_cluster = []  # the session fixture's handle, once started


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """The session's all-in-one cluster (see module docstring)."""
    data_dir = str(tmp_path_factory.mktemp("brume-cluster"))
    handle = start_cluster(data_dir)
    _session_cluster.append(handle)
    try:
        yield handle
    finally:
        _session_cluster.clear()
        stop_cluster(handle)
        if os.environ.get("BRUME_KEEP_TEST_CLUSTER") != "1":
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _cluster_healthy(request):
    """Before each test using the session cluster, restart what a previous test left dead.

    Only the session fixture's cluster is touched: a module that overrides `cluster` with a
    private one (e.g. with its daemon loops stopped on purpose) is left as it is.
    """
    if "cluster" in request.fixturenames and _session_cluster:
        if request.getfixturevalue("cluster") is _session_cluster[0]:
            _session_cluster[0].ensure_all_running()
    yield
