"""A small all-in-one cluster whose compute agents run real VMs (libvirt qemu:///system, TCG).

`start_qemu_cluster(data_dir)` runs `brume up --detach` WITHOUT `--test-driver` on a loopback
prefix and ports of its own (the helpers of tests/conftest.py), checks that the agents really
use qemu:///system, shortens the agents' stop timeout and sync interval for tests (config
edit + agent restart), and disables hv2 so every server lands on hv1 (the cache tests need
"one node"). `VmCloud` wraps it with what the VM tests do: CLI calls, compute API calls,
console polling, libvirt lookups and the node's image cache.
"""
from __future__ import annotations

import configparser
import json
import os
import random
import signal
import urllib.error
import urllib.parse
import urllib.request

import libvirt

from tests.compute.support import http
from tests.conftest import pick_ports
from tests.integration.support import ClusterHandle, brume, set_section_options, wait_until

QEMU_URI = "qemu:///system"
USER = "test:tester"
AGENT_TEST_OPTIONS = {"stop_timeout": "20", "sync_interval": "1", "heartbeat_interval": "2"}


def set_agent_options(conf_path: str, options: dict[str, str]) -> None:
    """Set options at the top of a rendered agent config's [compute-agent] section."""
    set_section_options(conf_path, "compute-agent", options)


def start_qemu_cluster(data_dir: str, agent_options: dict[str, str] | None = None
                       ) -> ClusterHandle:
    rng = random.Random()
    prefix = f"127.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}."
    ports = pick_ports(prefix, rng)
    result = brume(
        "up", "--detach", "--data-dir", data_dir, "--ip-prefix", prefix,
        "--proxy-port", str(ports["proxy"]), "--image-port", str(ports["image"]),
        "--compute-port", str(ports["compute"]), "--storage-port", str(ports["storage"]),
        "--identity-port", str(ports["identity"]), "--network-port", str(ports["network"]),
        "--volume-port", str(ports["volume"]), "--dashboard-port", str(ports["dashboard"]),
        timeout=300, check=False,
    )
    if result.returncode != 0:
        brume("down", "--data-dir", data_dir, check=False)
        raise RuntimeError(f"brume up failed:\n{result.stdout}\n{result.stderr}")
    if f"compute agents use libvirt at {QEMU_URI}" not in result.stdout:
        brume("down", "--data-dir", data_dir, check=False)
        raise RuntimeError(f"the agents do not use {QEMU_URI}:\n{result.stdout}")
    handle = ClusterHandle(data_dir)
    for agent in ("hv1", "hv2"):
        spec = handle.service_spec(f"agent-{agent}")
        set_agent_options(spec.conf_path, {**AGENT_TEST_OPTIONS, **(agent_options or {})})
        handle.kill_service(spec.name, signal.SIGTERM)
        handle.start_service(spec.name)
    return handle


class VmCloud:
    """What the VM tests do to the QEMU cluster."""

    def __init__(self, handle: ClusterHandle):
        self.handle = handle
        self.compute = handle.compute_url.rstrip("/") + "/v2.1"
        self.libvirt = libvirt.open(QEMU_URI)
        spec = handle.service_spec("agent-hv1")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(spec.conf_path)
        self.instances_dir = parser.get("compute-agent", "instances_dir")
        self.cache_dir = parser.get("compute-agent", "image_cache_dir")

    # auth and CLI ------------------------------------------------------------------------
    def token(self, user: str = USER) -> str:
        return self.handle.token(user)

    def cli(self, *args: str, timeout: float = 300.0):
        return brume(*args, "--auth-url", self.handle.auth_url, "--user", USER,
                     "--key", self.handle.credentials[USER], "--image-url",
                     self.handle.image_url, timeout=timeout)

    def upload(self, path: str, name: str, disk_format: str = "qcow2", *extra: str) -> dict:
        """Upload with `brume image upload` (extra: more CLI flags, e.g. --property k=v)."""
        container = disk_format if disk_format in ("aki", "ari") else "bare"
        result = self.cli("image", "upload", path, "--name", name, "--disk-format", disk_format,
                          "--container-format", container, "--format", "json", *extra)
        return json.loads(result.stdout)

    # compute API ------------------------------------------------------------------------
    def api(self, method: str, path: str, body=None, user: str = USER):
        return http(method, self.compute + path, self.token(user), body=body, timeout=120)

    def disable_host(self, host: str) -> None:
        status, answer = self.api("PUT", "/os-services/disable", {"host": host},
                                  user="admin:admin")
        assert status == 200, answer

    def boot(self, name: str, image_id: str, flavor: str = "1") -> str:
        status, answer = self.api("POST", "/servers", {"server": {
            "name": name, "imageRef": image_id, "flavorRef": flavor}})
        assert status == 202, answer
        return answer["server"]["id"]

    def server(self, server_id: str) -> dict:
        status, answer = self.api("GET", f"/servers/{server_id}")
        assert status == 200, answer
        return answer["server"]

    def wait_status(self, server_id: str, wanted: str, timeout: float = 90.0) -> dict:
        def reached():
            server = self.server(server_id)
            if server["status"] == "ERROR" and wanted != "ERROR":
                raise AssertionError(f"server went to ERROR: {server.get('fault')}")
            return server if server["status"] == wanted and not server.get(
                "OS-EXT-STS:task_state") else None

        return wait_until(reached, timeout=timeout, interval=0.5,
                          message=f"server {server_id} not {wanted} within {timeout}s")

    def action(self, server_id: str, body: dict):
        status, answer = self.api("POST", f"/servers/{server_id}/action", body)
        assert status in (200, 202), (status, answer)
        return answer

    def console(self, server_id: str) -> str:
        answer = self.action(server_id, {"os-getConsoleOutput": {"length": None}})
        return answer["output"]

    def wait_console_count(self, server_id: str, line: str, count: int,
                           timeout: float = 90.0) -> str:
        return wait_until(
            lambda: (out := self.console(server_id)).count(line) >= count and out,
            timeout=timeout, interval=0.5,
            message=f"console of {server_id} did not show {line!r} x{count} in {timeout}s",
        )

    def delete(self, server_id: str, timeout: float = 60.0) -> None:
        status, answer = self.api("DELETE", f"/servers/{server_id}")
        assert status in (204, 404), answer

        def gone():
            status, _ = self.api("GET", f"/servers/{server_id}")
            return status == 404

        wait_until(gone, timeout=timeout, interval=0.5,
                   message=f"server {server_id} not deleted in {timeout}s")

    # the hypervisor node ------------------------------------------------------------------
    def domain_exists(self, server_id: str) -> bool:
        try:
            self.libvirt.lookupByUUIDString(server_id)
            return True
        except libvirt.libvirtError:
            return False

    def instance_dir(self, server_id: str) -> str:
        return os.path.join(self.instances_dir, server_id)

    def cached_path(self, image_id: str) -> str:
        return os.path.join(self.cache_dir, image_id)

    def downloads(self, image_id: str) -> int:
        try:
            with open(os.path.join(self.cache_dir, "downloads.json")) as handle:
                return json.load(handle).get(image_id, 0)
        except FileNotFoundError:
            return 0

    def cache_leftovers(self, image_id: str) -> list[str]:
        if not os.path.isdir(self.cache_dir):
            return []
        return [name for name in os.listdir(self.cache_dir) if name.startswith(image_id)]

    def remove_leftover_domains(self) -> None:
        """Destroy and undefine this cluster's domains (left behind by a failed test)."""
        for domain in self.libvirt.listAllDomains():
            if os.path.isdir(self.instance_dir(domain.UUIDString())):
                if domain.isActive():
                    domain.destroy()
                domain.undefine()

    # the object store, as the image service's own user -----------------------------------
    def overwrite_image_object(self, image_id: str, data: bytes) -> None:
        """Replace the stored bytes of a (single-object) image behind the image service."""
        token, storage_url = self.handle.auth("service:brume")
        url = f"{storage_url}/images/{urllib.parse.quote(image_id)}"
        status, _ = http("HEAD", url, token, timeout=120)
        assert status == 200, f"image object {url} not found ({status})"
        status, _ = http("PUT", url, token, raw=data, timeout=120,
                         headers={"Content-Type": "application/octet-stream"})
        assert status == 201, status
