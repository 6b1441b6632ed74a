"""A small real cluster for the proxy's tests: 4 storage nodes as real processes on loopback.

Each node runs the real object, container and account servers (`python -m
common.wsgi_server`) over its own devices directory; rings are built with the real
`RingBuilder` (3 replicas, 4 devices in 4 zones). The proxy under test runs in-process
(`make_app(conf, rings)`) so tests call it as a WSGI app, or as its own process for
python-swiftclient and the `swift` CLI.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from ring.builder import RingBuilder
from storage import SERVER_APPS
from tests.integration.support import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = ("object", "container", "account")


def wait_until(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        from common.green import eventlet

        eventlet.sleep(0.05)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


SERVER_SECTION = """[server]
app = {app}
bind_ip = 127.0.0.1
bind_port = {port}
conf_dir = {conf_dir}

[{kind}-server]
devices = {devices}
mount_check = false
"""


class Cluster:
    """Four storage nodes (object+container+account server each) as subprocesses."""

    def __init__(self, base: str, nodes: int = 4, replicas: int = 3):
        self.base = base
        self.conf_dir = os.path.join(base, "conf")
        os.makedirs(self.conf_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, "brume.conf"), "w") as handle:
            handle.write("[cluster]\nhash_path_prefix = test-prefix\n"
                         "hash_path_suffix = test-suffix\n")
        self.nodes = []
        for index in range(nodes):
            devices = os.path.join(base, f"node{index}")
            os.makedirs(os.path.join(devices, f"d{index}"), exist_ok=True)
            ports = {kind: free_port() for kind in KINDS}
            self.nodes.append({"devices": devices, "device": f"d{index}", "ports": ports})
        for kind in KINDS:
            builder = RingBuilder(6, replicas, min_part_hours=0, seed=1)
            for index, node in enumerate(self.nodes):
                builder.add_dev(1, index + 1, "127.0.0.1", node["ports"][kind], node["device"],
                                100.0)
            builder.rebalance(seed=1)
            builder.write_ring(os.path.join(self.conf_dir, f"{kind}.ring.gz"))
        self.procs: dict[tuple, subprocess.Popen] = {}
        self.logs = os.path.join(base, "logs")
        os.makedirs(self.logs, exist_ok=True)

    def conf_path(self, index: int, kind: str) -> str:
        node = self.nodes[index]
        path = os.path.join(self.base, f"{kind}-{index}.conf")
        if not os.path.exists(path):
            with open(path, "w") as handle:
                handle.write(SERVER_SECTION.format(kind=kind, app=SERVER_APPS[kind],
                                                   port=node["ports"][kind],
                                                   conf_dir=self.conf_dir,
                                                   devices=node["devices"]))
        return path

    def start_server(self, index: int, kind: str) -> None:
        log = open(os.path.join(self.logs, f"{kind}-{index}.log"), "ab")
        self.procs[(index, kind)] = subprocess.Popen(
            [sys.executable, "-m", "common.wsgi_server", self.conf_path(index, kind)],
            cwd=ROOT, stdout=log, stderr=log,
        )
        log.close()

    def start(self) -> None:
        for index in range(len(self.nodes)):
            for kind in KINDS:
                self.start_server(index, kind)
        for index, node in enumerate(self.nodes):
            for kind in KINDS:
                wait_until(lambda p=node["ports"][kind]: healthy(p), 90,
                           f"{kind} server {index}")

    def kill(self, index: int, kind: str = "object") -> None:
        proc = self.procs.pop((index, kind), None)
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def restart(self, index: int, kind: str = "object") -> None:
        self.kill(index, kind)
        self.start_server(index, kind)
        port = self.nodes[index]["ports"][kind]
        wait_until(lambda: healthy(port), 90, f"{kind} server {index}")

    def restart_many(self, indexes, kind: str = "object") -> None:
        for index in indexes:
            self.kill(index, kind)
            self.start_server(index, kind)
        for index in indexes:
            port = self.nodes[index]["ports"][kind]
            wait_until(lambda p=port: healthy(p), 90, f"{kind} server {index}")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def node_index_of(self, node: dict) -> int:
        for index, candidate in enumerate(self.nodes):
            if candidate["device"] == node["device"]:
                return index
        raise KeyError(node["device"])


def write_proxy_conf(base: str, conf_dir: str, port: int, extra: str = "") -> str:
    """The sample etc/proxy-server.conf with this cluster's conf_dir and port."""
    with open(os.path.join(ROOT, "etc", "proxy-server.conf")) as handle:
        text = handle.read()
    text = text.replace("conf_dir = /etc/brume", f"conf_dir = {conf_dir}")
    text = text.replace("bind_port = 8080", f"bind_port = {port}")
    text = text.replace("node_timeout = 10", "node_timeout = 3")
    text = text.replace("error_suppression_limit = 10", "error_suppression_limit = 2")
    text = text.replace("error_suppression_interval = 60", "error_suppression_interval = 2")
    if extra:
        text = text.replace("\n[filter:auth]", "\n" + extra + "\n[filter:auth]")
    path = os.path.join(base, f"proxy-{port}.conf")
    with open(path, "w") as handle:
        handle.write(text)
    return path


SAMPLE_PIPELINE = ("catch_errors healthcheck cors domain_remap etag_quoter tempurl auth formpost"
                   " staticweb copy slo dlo versioned_writes symlink object_versioning"
                   " proxy-server")
PIPELINE_LINE = re.compile(r"^pipeline = .*$", re.MULTILINE)


def pipeline_conf(cluster, pipeline: str = SAMPLE_PIPELINE, extra: str = "") -> str:
    """write_proxy_conf with another `[pipeline:main]` line (and extra sections)."""
    path = write_proxy_conf(cluster.base, cluster.conf_dir, free_port(), extra)
    with open(path) as handle:
        text = handle.read()
    text, count = PIPELINE_LINE.subn(f"pipeline = {pipeline}", text)
    assert count == 1, "the sample config has one pipeline line"
    with open(path, "w") as handle:
        handle.write(text)
    return path
