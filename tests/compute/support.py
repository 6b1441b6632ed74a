"""Helpers for the compute tests: polling, tokens, a JSON HTTP client, and a small compute
cluster of REAL processes (compute API, agents on libvirt's test driver, image double) on
free loopback ports, each started with `python -m storage.wsgi_server CONF`."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from proxy.tokens import issue_token

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN_SECRET = "brume-dev-token-secret"
SERVICE_SECRET = "brume-dev-service-secret"

ACTIVE_IMAGE = "11111111-1111-4111-8111-111111111111"
QUEUED_IMAGE = "22222222-2222-4222-8222-222222222222"
BIG_IMAGE = "33333333-3333-4333-8333-333333333333"
IMAGES = {
    ACTIVE_IMAGE: {"id": ACTIVE_IMAGE, "name": "cirros", "status": "active",
                   "disk_format": "qcow2", "container_format": "bare", "size": 1024,
                   "checksum": "0" * 32, "min_disk": 0, "min_ram": 0},
    QUEUED_IMAGE: {"id": QUEUED_IMAGE, "name": "queued", "status": "queued",
                   "disk_format": "qcow2", "container_format": "bare", "size": None,
                   "checksum": None, "min_disk": 0, "min_ram": 0},
    BIG_IMAGE: {"id": BIG_IMAGE, "name": "big", "status": "active", "disk_format": "raw",
                "container_format": "bare", "size": 1024, "checksum": "1" * 32,
                "min_disk": 50, "min_ram": 0},
}


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05, what: str = ""):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        pause.wait(interval)


def token(account: str = "demo", user: str = "alice", admin: bool = False) -> str:
    roles = [".admin", ".reseller_admin"] if admin else [".admin"]
    return issue_token(TOKEN_SECRET, account, f"{account}:{user}", roles)[0]


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def http(method: str, url: str, tok: str | None = None, body=None, raw: bytes | None = None,
         headers: dict | None = None, timeout: float = 30.0):
    """(status, decoded JSON or None)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if tok:
        request.add_header("X-Auth-Token", tok)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, (json.loads(payload) if payload else None)
    except ValueError:
        return status, payload.decode("utf-8", "replace")


def write_conf(path: str, sections: dict[str, dict]) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for name, values in sections.items():
            handle.write(f"[{name}]\n")
            for key, value in values.items():
                handle.write(f"{key} = {value}\n")
            handle.write("\n")
    return path


class ComputeCluster:
    """Compute API + image double + agents as real processes in `root`."""

    def __init__(self, root: str, api: dict | None = None):
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.confs: dict[str, str] = {}
        self.agent_urls: dict[str, str] = {}
        images_file = os.path.join(root, "images.json")
        with open(images_file, "w", encoding="utf-8") as handle:
            json.dump(IMAGES, handle)
        image_port = free_port()
        self.image_url = f"http://127.0.0.1:{image_port}"
        self.confs["images"] = write_conf(os.path.join(root, "images.conf"), {
            "server": {"app": "tests.compute.image_double:make_app", "bind_port": image_port},
            "image-double": {"images_file": images_file, "token_secret": TOKEN_SECRET},
        })
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        api_options = {
            "db_path": os.path.join(root, "compute.db"),
            "token_secret": TOKEN_SECRET,
            "service_secret": SERVICE_SECRET,
            "image_url": self.image_url,
            "heartbeat_window": 4.0,
            "monitor_interval": 0.3,
            "agent_timeout": 20,
        }
        api_options.update(api or {})
        self.confs["api"] = write_conf(os.path.join(root, "compute-api.conf"), {
            "server": {"app": "compute.api.app:make_app", "bind_port": api_port},
            "compute-api": api_options,
        })
        self.start("images")
        self.start("api")

    def add_agent(self, name: str, **options) -> None:
        port = free_port()
        agent_options = {
            "host": name,
            "api_url": self.api_url,
            "service_secret": SERVICE_SECRET,
            "libvirt_uri": "test:///default",
            "instances_dir": os.path.join(self.root, name, "instances"),
            "vcpus": 4,
            "memory_mb": 2048,
            "local_gb": 40,
            "heartbeat_interval": 0.3,
            "sync_interval": 0.5,
        }
        agent_options.update(options)
        self.agent_urls[name] = f"http://127.0.0.1:{port}"
        self.confs[name] = write_conf(os.path.join(self.root, f"{name}.conf"), {
            "server": {"app": "compute.agent_server:make_app", "bind_port": port},
            "compute-agent": agent_options,
        })
        self.start(name)
        admin = token("admin", "admin", admin=True)
        wait_until(lambda: any(h["hypervisor_hostname"] == name and h["state"] == "up"
                               for h in self.get("/v2.1/os-hypervisors", admin)[1]
                               ["hypervisors"]), what=f"agent {name} registered")

    def start(self, name: str) -> None:
        log = open(os.path.join(self.root, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "storage.wsgi_server", self.confs[name]],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        url = {"images": self.image_url, "api": self.api_url}.get(name) or self.agent_urls[name]

        def healthy():
            if self.procs[name].poll() is not None:
                raise AssertionError(f"{name} exited; see {self.root}/{name}.log")
            try:
                return http("GET", url + "/healthcheck", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(healthy, timeout=20, what=f"{name} healthy")

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # API helpers ---------------------------------------------------------------------------
    def get(self, path: str, tok: str):
        return http("GET", self.api_url + path, tok)

    def post(self, path: str, tok: str, body=None, raw: bytes | None = None):
        return http("POST", self.api_url + path, tok, body=body, raw=raw)

    def put(self, path: str, tok: str, body):
        return http("PUT", self.api_url + path, tok, body=body)

    def delete(self, path: str, tok: str):
        return http("DELETE", self.api_url + path, tok)

    def boot(self, tok: str, name: str, flavor: str = "1", image: str = ACTIVE_IMAGE, **extra):
        return self.post("/v2.1/servers", tok, {"server": {
            "name": name, "imageRef": image, "flavorRef": flavor, **extra}})

    def server(self, tok: str, server_id: str) -> dict | None:
        status, body = self.get(f"/v2.1/servers/{server_id}", tok)
        return body["server"] if status == 200 else None

    def wait_status(self, tok: str, server_id: str, wanted: str, timeout: float = 40.0) -> dict:
        def reached():
            server = self.server(tok, server_id)
            if server and server["status"] == wanted and server["OS-EXT-STS:task_state"] is None:
                return server
            return None

        return wait_until(reached, timeout=timeout, what=f"{server_id} {wanted}")

    def hypervisor(self, name: str) -> dict:
        admin = token("admin", "admin", admin=True)
        for hv in self.get("/v2.1/os-hypervisors/detail", admin)[1]["hypervisors"]:
            if hv["hypervisor_hostname"] == name:
                return hv
        raise AssertionError(f"no hypervisor {name}")
