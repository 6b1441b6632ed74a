"""`brume up`, `brume down` and `brume status` as a user runs them, each on a cluster of its own
(fresh temp data dir, random loopback prefix, free ports)."""
from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys

import pytest

from cli.allinone import lifecycle
from cli.allinone.layout import Layout, load_layout
from tests.conftest import pick_ports
from tests.integration.support import REPO_ROOT, brume, wait_until

pytestmark = pytest.mark.cluster


def up_args(data_dir: str) -> list[str]:
    rng = random.Random()
    prefix = f"127.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}."
    ports = pick_ports(prefix, rng)
    return ["--data-dir", data_dir, "--ip-prefix", prefix, "--test-driver",
            "--proxy-port", str(ports["proxy"]), "--image-port", str(ports["image"]),
            "--compute-port", str(ports["compute"]), "--storage-port", str(ports["storage"]),
            "--identity-port", str(ports["identity"]), "--network-port", str(ports["network"]),
            "--volume-port", str(ports["volume"]),
            "--dashboard-port", str(ports["dashboard"])]


def status_json(data_dir: str) -> dict:
    result = brume("status", "--data-dir", data_dir, "--format", "json", check=False)
    assert result.returncode in (0, 3), result.stderr
    return json.loads(result.stdout)


def pids_alive(pids) -> list[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                if handle.read().rpartition(")")[2].split()[0] not in ("Z", "X"):
                    alive.append(pid)
        except OSError:
            pass
    return alive


@pytest.fixture
def data_dir(tmp_path):
    path = str(tmp_path / "cluster")
    yield path
    brume("down", "--data-dir", path, "--timeout", "5", check=False)


def test_up_status_down_and_restart_keeps_data(data_dir):
    first = brume("up", "--detach", *up_args(data_dir))
    assert "cluster up in" in first.stdout
    layout = load_layout(data_dir)
    assert os.path.exists(os.path.join(layout.conf_dir, "brume.conf"))
    for kind in ("object", "container", "account"):
        assert os.path.exists(os.path.join(layout.conf_dir, f"{kind}.ring.gz"))
        assert os.path.exists(os.path.join(layout.conf_dir, f"{kind}.builder"))
    for node in layout.nodes:
        assert os.path.isdir(layout.device_path(node))

    report = status_json(data_dir)
    assert report["all_up"] is True
    assert report["rings_consistent"] is True
    for node in report["nodes"]:  # health figures from each node's GET /recon/all
        assert node["recon"] is True and node["rings_match"] is True
        [device] = node["devices"]
        assert device["device"] == f"d{node['node']}" and device["size"] > 0
        assert device["async_pending"] == 0 and device["quarantined"] == 0
        assert "object-replicator" in node["daemons"]
    names = {row["name"] for row in report["processes"]}
    assert {"object-1", "container-4", "account-2", "identity-api", "network-api"} <= names
    rows = {row["name"]: row for row in report["processes"]}
    assert rows["identity-api"]["endpoint"] == layout.identity_url
    assert rows["network-api"]["endpoint"] == layout.network_url
    assert report["endpoints"]["identity"] == layout.identity_url
    assert "identity API" in first.stdout and "network API" in first.stdout
    pids = [row["pid"] for row in report["processes"]]
    table = brume("status", "--data-dir", data_dir)
    assert "object-1" in table.stdout and "up" in table.stdout
    assert "identity-api" in table.stdout and "network-api" in table.stdout

    again = brume("up", "--detach", "--test-driver", "--data-dir", data_dir, check=False)
    assert again.returncode == 1
    assert again.stderr.strip().startswith("brume: a cluster is already running")
    assert len(again.stderr.strip().splitlines()) == 1

    conf = layout.spec("object-1").conf_path
    with open(conf, "a", encoding="utf-8") as handle:
        handle.write("# kept across restarts\n")
    marker = os.path.join(layout.device_path(1), "marker")
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write("data")

    down = brume("down", "--data-dir", data_dir)
    assert "stopped" in down.stdout
    assert "no VMs left on test:///default" in down.stdout  # test driver: none outlive agents
    assert pids_alive(pids) == []
    assert not [f for f in os.listdir(layout.run_dir) if f.endswith(".pid")]
    report = status_json(data_dir)
    assert report["all_up"] is False
    assert {row["state"] for row in report["processes"]} == {"down"}

    brume("up", "--detach", "--test-driver", "--data-dir", data_dir)
    with open(conf, encoding="utf-8") as handle:
        assert handle.read().endswith("# kept across restarts\n")
    with open(marker, encoding="utf-8") as handle:
        assert handle.read() == "data"
    assert status_json(data_dir)["all_up"] is True


def test_up_names_the_server_that_fails(data_dir):
    args = up_args(data_dir)
    layout = Layout(data_dir=data_dir, ip_prefix=args[args.index("--ip-prefix") + 1],
                    storage_port=int(args[args.index("--storage-port") + 1]),
                    proxy_port=int(args[args.index("--proxy-port") + 1]),
                    image_port=int(args[args.index("--image-port") + 1]),
                    compute_port=int(args[args.index("--compute-port") + 1]),
                    identity_port=int(args[args.index("--identity-port") + 1]),
                    network_port=int(args[args.index("--network-port") + 1]),
                    volume_port=int(args[args.index("--volume-port") + 1]),
                    dashboard_port=int(args[args.index("--dashboard-port") + 1]))
    lifecycle.prepare(layout, lifecycle.runnable_specs(layout)[0])  # configs, no processes
    conf = layout.spec("container-3").conf_path
    with open(conf, encoding="utf-8") as handle:
        text = handle.read()
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write(text.replace("[container-server]\n",
                                  "[container-server]\nno_such_option = 1\n"))
    result = brume("up", "--detach", "--test-driver", "--data-dir", data_dir, check=False)
    assert result.returncode == 1
    assert "container-3 exited" in result.stdout
    assert "no_such_option" in result.stdout  # the last lines of its log
    assert not [f for f in os.listdir(layout.run_dir) if f.endswith(".pid")]
    assert status_json(data_dir)["all_up"] is False


@contextlib.contextmanager
def foreground_up(data_dir: str, launcher: list[str]):
    """`python <launcher> up ...` in the foreground, yielded once every process is up;
    killed on the way out if it is still running."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, *launcher, "up", *up_args(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO_ROOT,
    )
    try:
        wait_until(
            lambda: os.path.exists(os.path.join(data_dir, "etc", "cluster.json"))
            and status_json(data_dir)["all_up"],
            timeout=60, interval=0.2, message="foreground cluster never came up",
        )
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()


def test_clear_errors(tmp_path):
    missing = str(tmp_path / "none")
    result = brume("status", "--data-dir", missing, check=False)
    assert result.returncode == 1 and result.stderr.startswith("brume: no cluster in")
    result = brume("down", "--data-dir", missing, check=False)
    assert result.returncode == 1 and result.stderr.startswith("brume: no cluster in")
    result = brume("up", "--data-dir", missing, "--ip-prefix", "10.1.2.", check=False)
    assert result.returncode == 1
    assert "loopback" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(missing)
    result = brume("up", "--data-dir", missing, "--proxy-port", "99999", check=False)
    assert result.returncode == 2 and "port out of range" in result.stderr


def test_down_on_an_unreachable_hypervisor(tmp_path):
    """Counting is a note (the processes are stopped anyway); --with-vms fails in one line."""
    from cli.allinone import configs

    data_dir = str(tmp_path / "cluster")
    layout = Layout(data_dir=data_dir)
    lifecycle.prepare(layout, lifecycle.runnable_specs(layout)[0])  # configs, no processes
    uri = "qemu+unix:///system?socket=" + str(tmp_path / "no-libvirtd")
    for agent in ("hv1", "hv2"):
        configs.set_option_anywhere(layout.spec(f"agent-{agent}").conf_path, "libvirt_uri",
                                    uri)
    result = brume("down", "--data-dir", data_dir)
    assert "no cluster processes running" in result.stdout
    assert f"note: cannot count this cluster's VMs: cannot connect to {uri}" in result.stdout
    result = brume("down", "--data-dir", data_dir, "--with-vms", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"brume: cannot connect to {uri}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_one_line(tmp_path):
    import socket

    data_dir = str(tmp_path / "busy")
    args = up_args(data_dir)
    prefix = args[args.index("--ip-prefix") + 1]
    port = int(args[args.index("--storage-port") + 1])
    with socket.socket() as blocker:
        blocker.bind((f"{prefix}2", port + 1))
        blocker.listen()
        result = brume("up", "--detach", *args, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"brume: container-2 cannot listen on {prefix}2:{port + 1}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_foreground_up_exits_after_down_from_another_shell(data_dir):
    launcher = ["-c", "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))"]
    with foreground_up(data_dir, launcher) as proc:
        brume("down", "--data-dir", data_dir)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "every cluster process has stopped" in output
