"""The compute agent's work: builds, power actions and deletes on its hypervisor, plus the
periodic heartbeat (registration + reconciliation) and power-state sync towards the API.

Protocol with the API (all requests HMAC-signed with the service secret, see
compute.service_auth):

- heartbeat: `PUT <api>/internal/v1/hosts/<host>` with capacity, `boot_id` (new on every
  agent start), `instances` ({server id: power_state} of the domains present) and `building`
  (server ids with a build in progress), and the host's uptime and load averages
  (`compute.host_load`). The answer's `delete` lists domains the API no longer
  wants here (deleted while the agent was away); the agent removes them.
- events: `POST <api>/internal/v1/servers/<id>/events` with `{"host", "event", ...}`:
  `build_done` (power_state), `build_failed` (message; `retry` false when no other host
  could do better), `power_changed` (power_state).
  Events are retried until the API takes them.

Builds run asynchronously in green threads; power actions and deletes run while the API's
request waits. One lock per server serializes everything done to it, including the sync.
"""
from __future__ import annotations

import logging
import time
import uuid

from common.http_client import HTTPClientError
from compute import service_auth, service_http
from compute.driver import DriverError, LibvirtDriver
from compute.host_load import read_host_load

LOG = logging.getLogger("brume.compute.agent")


class Agent:
    """State and operations of one compute agent."""

    def __init__(self, conf: dict, driver: LibvirtDriver, green):
        self.conf = conf
        self.driver = driver
        self.green = green  # common.green.eventlet (spawn, sleep, semaphore)
        self.boot_id = uuid.uuid4().hex
        self.building: set[str] = set()
        self._locks: dict[str, object] = {}
        self._last_power: dict[str, int] = {}
        self.capacity = self._capacity()
        self.running = True

    # locking ---------------------------------------------------------------------------
    def lock(self, server_id: str):
        semaphore = self._locks.get(server_id)
        if semaphore is None:
            semaphore = self._locks[server_id] = self.green.semaphore.Semaphore(1)
        return semaphore

    def _forget(self, server_id: str) -> None:
        self._last_power.pop(server_id, None)
        semaphore = self._locks.get(server_id)
        if semaphore is not None and semaphore.balance > 0:
            self._locks.pop(server_id, None)

    # capacity / reports ------------------------------------------------------------------
    def _capacity(self) -> dict:
        detected = self.driver.host_capacity()
        for key in ("vcpus", "memory_mb", "local_gb"):
            if self.conf[key]:
                detected[key] = self.conf[key]
        return detected

    def report(self) -> dict:
        return {
            "host": self.conf["host"],
            "availability_zone": self.conf["availability_zone"],
            "agent_url": self.conf["agent_url"],
            "host_ip": self.conf["bind_ip"],
            "boot_id": self.boot_id,
            "instances": self.driver.list_instances(),
            "building": sorted(self.building),
            **self.capacity,
            **read_host_load(),
        }

    def _call_api(self, method: str, path: str, body: dict) -> dict:
        return service_http.call(
            self.conf["api_url"], method, path, self.conf["service_secret"], body, timeout=30.0,
            target=service_auth.API_TARGET,
        )

    def heartbeat_once(self) -> None:
        answer = self._call_api("PUT", f"/internal/v1/hosts/{self.conf['host']}", self.report())
        for server_id in answer.get("delete", []):
            if server_id in self.building:
                continue
            with self.lock(server_id):
                LOG.info("removing %s: deleted while this agent was away", server_id)
                try:
                    self.driver.destroy(server_id)
                except DriverError as exc:
                    LOG.warning("cannot remove %s: %s", server_id, exc)
            self._forget(server_id)

    def heartbeat_loop(self) -> None:
        while self.running:
            try:
                self.heartbeat_once()
            except HTTPClientError as exc:
                LOG.warning("heartbeat to %s failed: %s", self.conf["api_url"], exc)
            except Exception:
                LOG.exception("heartbeat failed")
            self.green.sleep(self.conf["heartbeat_interval"])

    def send_event(self, server_id: str, event: dict) -> None:
        """Deliver an event to the API, retrying while it is unreachable."""
        body = {"host": self.conf["host"], **event}
        delay = 0.2
        while self.running:
            try:
                self._call_api("POST", f"/internal/v1/servers/{server_id}/events", body)
                return
            except HTTPClientError as exc:
                if exc.status is None:
                    LOG.warning("API unreachable for event on %s: %s", server_id, exc)
                elif exc.status < 500:
                    LOG.warning("API refused event %s for %s: %s", event, server_id, exc)
                    return
            self.green.sleep(delay)
            delay = min(delay * 2, 5.0)

    # builds ------------------------------------------------------------------------------
    def start_build(self, instance: dict, flavor: dict, image_meta: dict) -> None:
        server_id = instance["id"]
        self.building.add(server_id)
        self.green.spawn_n(self._build, instance, flavor, image_meta)

    def _build(self, instance: dict, flavor: dict, image_meta: dict) -> None:
        server_id = instance["id"]
        try:
            with self.lock(server_id):
                try:
                    self.driver.spawn(instance, image_meta, flavor)
                    power_state = self.driver.get_info(server_id).power_state
                    event = {"event": "build_done", "power_state": power_state}
                    self._last_power[server_id] = power_state
                except DriverError as exc:
                    event = {"event": "build_failed", "message": str(exc),
                             "retry": bool(exc.retry)}
                except Exception as exc:
                    LOG.exception("build of %s failed", server_id)
                    self.driver.destroy(server_id, instance)
                    event = {"event": "build_failed", "message": f"unexpected error: {exc}"}
                self.send_event(server_id, event)
        finally:
            self.building.discard(server_id)

    # power actions and delete --------------------------------------------------------------
    def power_action(self, server_id: str, action: str, hard: bool = False) -> int:
        """Run start/stop/reboot now; returns the resulting power_state."""
        with self.lock(server_id):
            if action == "start":
                self.driver.power_on(server_id)
            elif action == "stop":
                self.driver.power_off(server_id, sleep=self.green.sleep)
            elif action == "reboot":
                self.driver.reboot(server_id, hard)
            else:
                raise ValueError(f"unknown action {action!r}")
            power_state = self.driver.get_info(server_id).power_state
            self._last_power[server_id] = power_state
            return power_state

    def attach_interface(self, server_id: str, nic: dict) -> None:
        """Plug a port into a built server (a builder without NICs, like the test driver's,
        only records nothing)."""
        plug = getattr(self.driver.builder, "plug_interface", None)
        with self.lock(server_id):
            self.driver.get_info(server_id)  # InstanceNotFound when it is not here
            if plug is not None:
                self.driver.attach_device(server_id, plug(nic))

    def detach_interface(self, server_id: str, nic: dict) -> None:
        device = getattr(self.driver.builder, "interface_device", None)
        with self.lock(server_id):
            self.driver.get_info(server_id)
            if device is not None:
                self.driver.detach_device(server_id, device(nic))
        self.sync_network()

    def attach_volume(self, server_id: str, item: dict) -> None:
        """Hot-plug a volume's disk (live if the guest runs, and in its definition); a builder
        without volumes (the test driver's) only checks the server is here."""
        device = getattr(self.driver.builder, "volume_device", None)
        with self.lock(server_id):
            self.driver.get_info(server_id)
            if device is not None:
                self.driver.attach_device(server_id, device(item))

    def detach_volume(self, server_id: str, item: dict) -> None:
        """Unplug a volume's disk and wait until the guest let it go (so its export can
        stop)."""
        device = getattr(self.driver.builder, "volume_device", None)
        with self.lock(server_id):
            self.driver.get_info(server_id)
            if device is not None:
                self.driver.detach_device(server_id, device(item))
                self.driver.wait_device_gone(server_id, item["device"], self.green.sleep)

    def delete(self, server_id: str) -> None:
        with self.lock(server_id):
            self.driver.destroy(server_id)
        self._forget(server_id)

    # power sync ----------------------------------------------------------------------------
    def sync_once(self) -> None:
        """Report domains whose power state changed outside the API (e.g. a guest shutdown)."""
        for server_id in list(self.driver.list_instances()):
            if server_id in self.building:
                continue
            semaphore = self.lock(server_id)
            if not semaphore.acquire(blocking=False):
                continue
            try:
                try:
                    power_state = self.driver.get_info(server_id).power_state
                except DriverError:
                    continue
                if self._last_power.get(server_id) == power_state:
                    continue
                self.send_event(server_id, {"event": "power_changed", "power_state": power_state})
                self._last_power[server_id] = power_state
            finally:
                semaphore.release()

    def sync_loop(self) -> None:
        while self.running:
            self.green.sleep(self.conf["sync_interval"])
            try:
                self.sync_once()
            except Exception:
                LOG.exception("power sync failed")
            self.clean_image_cache()
            self.sync_network()

    def sync_network(self) -> None:
        """Bring the node's datapath up to date with the network service (real-VM builders
        with networking): rules and floating IPs changed there apply within one interval."""
        sync = getattr(self.driver.builder, "sync_network", None)
        if sync is None:
            return
        try:
            sync()
        except Exception:
            LOG.exception("network sync failed")

    def clean_image_cache(self) -> None:
        """Remove cached image bases unused for image_cache_max_age (real-VM builders)."""
        remove = getattr(self.driver.builder, "remove_unused_images", None)
        if remove is None:
            return
        try:
            removed = remove(self.conf.get("image_cache_max_age", 86400.0))
        except Exception:
            LOG.exception("image cache cleanup failed")
            return
        if removed:
            LOG.info("removed unused cached images: %s", ", ".join(removed))

    def start_background(self) -> None:
        restored = self.driver.restore_persistent_definitions()
        if restored:
            LOG.info("re-defined %d persistent domains", len(restored))
        self.green.spawn_n(self.heartbeat_loop)
        self.green.spawn_n(self.sync_loop)
        LOG.info("agent %s up (boot %s, %s)", self.conf["host"], self.boot_id, time.ctime())
