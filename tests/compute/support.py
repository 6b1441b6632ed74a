"""Helpers for the compute tests: polling, tokens, a JSON HTTP client, real images in the
cluster's image service, and a small compute cluster of REAL processes (compute API and
agents on libvirt's test driver, each `python -m common.wsgi_server CONF`) wired to the
session cluster's real image service and proxy tokens.

Everything is read from the session cluster's generated configs (`CloudSettings`): tokens are
signed with the proxy's `[auth] token_secret`, as the proxy itself signs them, so tests can act
as any project without a user entry per project.
"""
from __future__ import annotations

import configparser
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

from common.tokens import issue_token
from tests.integration.support import free_port, wait_until

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def http(method: str, url: str, tok: str | None = None, body=None, raw: bytes | None = None,
         headers: dict | None = None, timeout: float = 30.0):
    """(status, decoded JSON or None)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if tok:
        request.add_header("X-Auth-Token", tok)
    if data is not None and not request.has_header("Content-type"):
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


def read_ini(path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), strict=False)
    parser.optionxform = str  # user names like "test:tester" keep their case
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    return parser


@dataclass(frozen=True)
class CloudSettings:
    """What compute tests need from a running all-in-one cluster, read from its configs."""

    image_url: str
    auth_url: str
    compute_url: str
    token_secret: str
    service_secret: str

    @classmethod
    def of(cls, handle) -> CloudSettings:
        proxy = read_ini(os.path.join(handle.conf_dir, "proxy-server.conf"))
        api = read_ini(os.path.join(handle.conf_dir, "compute-api.conf"))
        return cls(image_url=handle.image_url, auth_url=handle.auth_url,
                   compute_url=handle.compute_url,
                   token_secret=proxy.get("filter:auth", "token_secret"),
                   service_secret=api.get("compute-api", "service_secret"))

    def token(self, account: str = "demo", user: str = "alice", admin: bool = False) -> str:
        """A token for `account:user` signed like the proxy signs them (admin = cloud admin)."""
        roles = [".admin", ".reseller_admin"] if admin else [".admin"]
        return issue_token(self.token_secret, account, f"{account}:{user}", roles)[0]

    def create_image(self, tok: str, name: str, data: bytes | None = None, **fields) -> str:
        """Create an image in the real image service (raw/bare), upload `data` if given;
        returns its id. Without data the image stays `queued`."""
        status, image = http("POST", self.image_url + "/v2/images", tok, body={
            "name": name, "disk_format": "raw", "container_format": "bare", **fields})
        assert status == 201, (status, image)
        if data is not None:
            status, answer = http(
                "PUT", f"{self.image_url}/v2/images/{image['id']}/file", tok, raw=data,
                headers={"Content-Type": "application/octet-stream"})
            assert status == 204, (status, answer)
            status, image = http("GET", f"{self.image_url}/v2/images/{image['id']}", tok)
            assert status == 200 and image["status"] == "active", image
        return image["id"]

    def test_images(self) -> dict[str, str]:
        """Public images every project can boot from: a few KiB of raw bytes ("active"),
        one never uploaded ("queued") and one needing a 50 GB disk ("big")."""
        admin = self.token("admin", "admin", admin=True)
        data = os.urandom(4096)
        return {
            "active": self.create_image(admin, "compute-test-raw", data, visibility="public"),
            "queued": self.create_image(admin, "compute-test-queued", visibility="public"),
            "big": self.create_image(admin, "compute-test-big", data, visibility="public",
                                     min_disk=50),
        }


class ComputeClient:
    """JSON calls to a compute API as a project would make them."""

    api_url: str
    image_id: str  # booted when a test names no image

    def get(self, path: str, tok: str):
        return http("GET", self.api_url + path, tok)

    def post(self, path: str, tok: str, body=None, raw: bytes | None = None):
        return http("POST", self.api_url + path, tok, body=body, raw=raw)

    def put(self, path: str, tok: str, body):
        return http("PUT", self.api_url + path, tok, body=body)

    def delete(self, path: str, tok: str):
        return http("DELETE", self.api_url + path, tok)

    def boot(self, tok: str, name: str, flavor: str = "1", image: str | None = None, **extra):
        return self.post("/v2.1/servers", tok, {"server": {
            "name": name, "imageRef": image or self.image_id, "flavorRef": flavor, **extra}})

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

    def hypervisor(self, name: str, admin_token: str) -> dict:
        for hv in self.get("/v2.1/os-hypervisors/detail", admin_token)[1]["hypervisors"]:
            if hv["hypervisor_hostname"] == name:
                return hv
        raise AssertionError(f"no hypervisor {name}")


class ClusterCompute(ComputeClient):
    """The session cluster's own compute API (`brume up`: hv1 and hv2 on the test driver)."""

    def __init__(self, settings: CloudSettings, image_id: str):
        self.settings = settings
        self.api_url = settings.compute_url
        self.image_id = image_id


class ComputeCluster(ComputeClient):
    """A private compute API and agents as real processes in `root`, for tests that need
    agent settings the session cluster does not have (a short heartbeat window, slow builds,
    a host that fails builds). Images and tokens are the session cluster's real ones."""

    def __init__(self, root: str, settings: CloudSettings, image_id: str,
                 api: dict | None = None):
        self.root = root
        self.settings = settings
        self.image_id = image_id
        self.procs: dict[str, subprocess.Popen] = {}
        self.confs: dict[str, str] = {}
        self.agent_urls: dict[str, str] = {}
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        api_options = {
            "db_path": os.path.join(root, "compute.db"),
            "token_secret": settings.token_secret,
            "service_secret": settings.service_secret,
            "image_url": settings.image_url,
            "heartbeat_window": 4.0,
            "monitor_interval": 0.3,
            "agent_timeout": 20,
        }
        api_options.update(api or {})
        self.confs["api"] = write_conf(os.path.join(root, "compute-api.conf"), {
            "server": {"app": "compute.api.app:make_app", "bind_port": api_port},
            "compute-api": api_options,
        })
        self.start("api")

    def add_agent(self, name: str, **options) -> None:
        self.add_agents({name: options})

    def add_agents(self, agents: dict[str, dict]) -> None:
        """Start agents (name -> option overrides) side by side; wait until all registered."""
        for name, options in agents.items():
            port = free_port()
            agent_options = {
                "host": name,
                "api_url": self.api_url,
                "service_secret": self.settings.service_secret,
                "libvirt_uri": "test:///default",
                "instances_dir": os.path.join(self.root, name, "instances"),
                "image_url": self.settings.image_url,
                "auth_url": self.settings.auth_url,
                "vcpus": 4,
                "memory_mb": 2048,
                "local_gb": 40,
                "heartbeat_interval": 0.3,
                "sync_interval": 0.5,
                **options,
            }
            self.agent_urls[name] = f"http://127.0.0.1:{port}"
            self.confs[name] = write_conf(os.path.join(self.root, f"{name}.conf"), {
                "server": {"app": "compute.agent_server:make_app", "bind_port": port},
                "compute-agent": agent_options,
            })
            self.launch(name)
        for name in agents:
            self.wait_healthy(name)
        admin = self.settings.token("admin", "admin", admin=True)

        def all_up():
            listed = self.get("/v2.1/os-hypervisors", admin)[1]["hypervisors"]
            up = {h["hypervisor_hostname"] for h in listed if h["state"] == "up"}
            return set(agents) <= up

        wait_until(all_up, what=f"agents {sorted(agents)} registered")

    def start(self, name: str) -> None:
        self.launch(name)
        self.wait_healthy(name)

    def launch(self, name: str) -> None:
        log = open(os.path.join(self.root, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "common.wsgi_server", self.confs[name]],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_healthy(self, name: str) -> None:
        url = self.api_url if name == "api" else self.agent_urls[name]

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
        procs = [self.procs.pop(name) for name in list(self.procs)]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
