"""The compute API's orchestration: scheduling and dispatching builds (with retries), power
actions and deletes through the agents, and applying what agents report.

Every step is a database transaction followed by (never inside) an HTTP call to an agent.
Long steps run in green threads spawned with `spawn`, so API requests return at once.
"""
from __future__ import annotations

import logging
import time

from common.http_client import HTTPClientError
from compute import claims, states
from compute.db import Database
from compute.hosts import HostRepo
from compute.image_lookup import BOOT_IMAGE_PROPERTIES
from compute.instance_actions import ActionLog
from compute.repo import NotFound, Repo
from compute.scheduler import Policy
from compute.service_auth import agent_target
from compute.service_http import call

LOG = logging.getLogger("brume.compute.conductor")

ACTION_TASKS = {
    "start": (states.POWERING_ON, states.ACTIVE),
    "stop": (states.POWERING_OFF, states.STOPPED),
    "reboot": (states.REBOOT_STARTED, states.ACTIVE),
    "reboot_hard": (states.REBOOT_STARTED_HARD, states.ACTIVE),
}
TASK_ACTIONS = {task: action for action, (task, _) in ACTION_TASKS.items()}


def build_request(server: dict) -> dict:
    """The body of an agent's build request for a server row.

    The instance carries what its first boot needs: its ports (`compute.network_info`),
    the keypair's public key, the user_data and whether to make a config drive.
    The kernel and ramdisk are the ids the API resolved (and checked) with the caller's token
    at boot, carried by the instance; the image record carries no `kernel_id`/`ramdisk_id`
    (the agent, which reads images as the service user, must never pick one itself).
    """
    image_meta = {key: value for key, value in server["image_meta"].items()
                  if key not in BOOT_IMAGE_PROPERTIES}
    return {
        "instance": {
            "id": server["id"], "name": server["name"], "project_id": server["project_id"],
            "metadata": server["metadata"], "image_ref": server["image_ref"],
            "kernel_id": server.get("kernel_id"), "ramdisk_id": server.get("ramdisk_id"),
            "key_name": server.get("key_name"), "key_data": server.get("key_data"),
            "user_data": server.get("user_data"),
            "config_drive": bool(server.get("config_drive")),
            "availability_zone": server.get("availability_zone"),
            "network_info": server.get("network_info") or [],
            "block_devices": server.get("block_devices") or [],
        },
        "flavor": {"id": server["flavor_id"], "vcpus": server["vcpus"],
                   "ram": server["ram"], "disk": server["disk"]},
        "image_meta": image_meta,
    }


class Conductor:
    """Drives servers through their life on the agents."""

    def __init__(self, db: Database, repo: Repo, hosts: HostRepo, conf: dict, spawn):
        self.db = db
        self.repo = repo
        self.hosts = hosts
        self.conf = conf
        self._spawn = spawn
        self.actions = ActionLog(db)  # os-instance-actions: each operation's result
        self.policy = Policy(
            cpu_allocation_ratio=conf["cpu_allocation_ratio"],
            ram_allocation_ratio=conf["ram_allocation_ratio"],
            disk_allocation_ratio=conf["disk_allocation_ratio"],
            weigher=conf["scheduler_weigher"],
        )

    def spawn(self, function, *args) -> None:
        """Run `function` in a green thread; an unexpected error is logged, never lost."""
        self._spawn(self._guarded, function, *args)

    @staticmethod
    def _guarded(function, *args) -> None:
        try:
            function(*args)
        except Exception:
            LOG.exception("%s%r failed", getattr(function, "__name__", function), args)

    def _agent(self, host: dict, method: str, path: str, body: dict | None = None) -> dict:
        return call(host["agent_url"], method, path, self.conf["service_secret"], body,
                    timeout=self.conf["agent_timeout"], target=agent_target(host["name"]))

    # builds ----------------------------------------------------------------------------
    def start_build(self, server_id: str) -> None:
        self.spawn(self._schedule_or_fail, server_id)

    def _schedule_or_fail(self, server_id: str) -> None:
        try:
            self.schedule_and_dispatch(server_id)
        except Exception:
            LOG.exception("scheduling %s failed", server_id)
            self.repo.set_error(server_id, "Unexpected error while scheduling the build.",
                                expect={"vm_state": states.BUILDING})

    def schedule_and_dispatch(self, server_id: str) -> None:
        host = claims.claim_host(self.db, server_id, self.policy, self.conf["heartbeat_window"])
        if host is None:
            server = self.repo.update_server(
                server_id,
                expect={"vm_state": states.BUILDING, "task_state": states.SCHEDULING},
                vm_state=states.ERROR, task_state=None, fault_message=self._no_host_message(
                    server_id), fault_code=500, fault_created=time.time(),
            )
            if server is not None:
                LOG.info("server %s: no valid host", server_id)
                self.actions.finish(server_id, "create", False, claims.NO_VALID_HOST)
            return
        body = build_request(self.repo.get_server(server_id))
        try:
            self._agent(host, "POST", f"/v1/instances/{server_id}", body)
        except HTTPClientError as exc:
            self.build_failed(server_id, host["name"], f"cannot reach the agent: {exc}")

    def _no_host_message(self, server_id: str) -> str:
        try:
            attempted = self.repo.get_server(server_id)["attempted_hosts"]
        except NotFound:
            attempted = []
        if attempted:
            return (f"{claims.NO_VALID_HOST} Exceeded retries or no other host after build "
                    f"failures on: {', '.join(attempted)}.")
        return claims.NO_VALID_HOST

    def build_failed(self, server_id: str, host: str, message: str, retry: bool = True) -> None:
        """A host could not build: retry elsewhere (bounded) or put the server in ERROR.

        A server deleted meanwhile is no error; a database error is raised (the agent's event
        then gets a 500 and is sent again).
        """
        try:
            server = self.repo.get_server(server_id)
        except NotFound:
            return
        if server["host"] != host or server["vm_state"] != states.BUILDING:
            return
        if not retry:
            self.repo.set_error(server_id, f"Build of instance {server_id} aborted: {message}",
                                expect={"host": host, "vm_state": states.BUILDING})
            self.actions.finish(server_id, "create", False, message, host=host)
            return
        retries_used = len(server["attempted_hosts"]) - 1
        if retries_used >= self.conf["max_build_retries"]:
            self.repo.set_error(
                server_id,
                f"{claims.NO_VALID_HOST} Build failed on {len(server['attempted_hosts'])} "
                f"host(s); retries exhausted. Last error on {host}: {message}",
                expect={"host": host, "vm_state": states.BUILDING},
            )
            self.actions.finish(server_id, "create", False, message, host=host)
            return
        LOG.info("server %s: build failed on %s (%s); rescheduling", server_id, host, message)
        if claims.release_for_retry(self.db, server_id, host):
            self.start_build(server_id)

    def build_done(self, server_id: str, host: str, power_state: int) -> None:
        now = time.time()
        if self.repo.update_server(
            server_id,
            expect={"vm_state": states.BUILDING, "task_state": states.SPAWNING, "host": host},
            vm_state=states.ACTIVE, task_state=None, power_state=power_state, launched_at=now,
        ) is not None:
            self.actions.finish(server_id, "create", True, host=host)

    # power actions -----------------------------------------------------------------------
    def begin_action(self, server: dict, action: str) -> dict | None:
        """Mark the action in flight (409 semantics are the caller's); None if it raced."""
        task, _ = ACTION_TASKS[action]
        allowed = {
            "start": (states.STOPPED,),
            "stop": (states.ACTIVE, states.ERROR),
            "reboot": (states.ACTIVE,),
            "reboot_hard": (states.ACTIVE, states.STOPPED, states.ERROR),
        }[action]
        updated = self.repo.update_server(
            server["id"], expect={"vm_state": allowed, "task_state": None}, task_state=task
        )
        if updated is not None:
            self.spawn(self.run_action, server["id"], action)
        return updated

    def run_action(self, server_id: str, action: str) -> None:
        task, final_vm_state = ACTION_TASKS[action]
        server = self.repo.get_server(server_id)
        host = self.hosts.get_host(server["host"]) if server["host"] else None
        if host is None:
            self.repo.update_server(server_id, expect={"task_state": task}, task_state=None)
            return
        agent_action = "reboot" if action.startswith("reboot") else action
        try:
            answer = self._agent(host, "POST", f"/v1/instances/{server_id}/action",
                                 {"action": agent_action, "hard": action == "reboot_hard"})
        except HTTPClientError as exc:
            LOG.warning("server %s: %s on %s failed: %s", server_id, action, host["name"], exc)
            self.repo.update_server(server_id, expect={"task_state": task}, task_state=None)
            self.actions.finish(server_id, agent_action, False, str(exc), host=host["name"])
            return
        power_state = int(answer.get("power_state", states.NOSTATE))
        self.repo.update_server(
            server_id, expect={"task_state": task}, task_state=None, vm_state=final_vm_state,
            power_state=power_state,
        )
        self.actions.finish(server_id, agent_action, True, host=host["name"])

    # deletes -----------------------------------------------------------------------------
    def begin_delete(self, server: dict) -> None:
        if not server["host"]:
            self.repo.mark_deleted(server["id"])
            self.actions.finish(server["id"], "delete", True)
            return
        self.repo.update_server(server["id"], task_state=states.DELETING)
        self.spawn(self.run_delete, server["id"])

    def run_delete(self, server_id: str) -> None:
        """Delete on the agent, then locally. A database error is raised (and logged by
        `spawn`); the server stays DELETING and the monitor runs the delete again."""
        try:
            server = self.repo.get_server(server_id)
        except NotFound:  # deleted meanwhile
            return
        host = self.hosts.get_host(server["host"]) if server["host"] else None
        alive = host is not None and (
            time.time() - host["last_heartbeat"] <= self.conf["heartbeat_window"])
        if alive:
            try:
                self._agent(host, "DELETE", f"/v1/instances/{server_id}")
            except HTTPClientError as exc:
                if exc.status is None:
                    LOG.warning("server %s: agent unreachable (%s); local delete", server_id,
                                exc)
                elif exc.status != 404:
                    LOG.warning("server %s: agent delete failed (%s); deleting locally; the "
                                "agent removes the domain when it reconciles", server_id, exc)
        self.repo.mark_deleted(server_id)
        self.actions.finish(server_id, "delete", True, host=server["host"])

    # agent reports -------------------------------------------------------------------------
    def apply_event(self, server_id: str, event: dict) -> None:
        host, kind = event["host"], event["event"]
        if kind == "build_done":
            self.build_done(server_id, host, int(event.get("power_state", states.RUNNING)))
        elif kind == "build_failed":
            self.build_failed(server_id, host, str(event.get("message", "build failed")),
                              retry=event.get("retry", True) is not False)
        elif kind == "power_changed":
            power_state = int(event.get("power_state", states.NOSTATE))
            if power_state == states.RUNNING:
                self.repo.update_server(
                    server_id, expect={"host": host, "task_state": None,
                                       "vm_state": (states.STOPPED, states.ACTIVE)},
                    vm_state=states.ACTIVE, power_state=power_state)
            elif power_state in (states.SHUTDOWN, states.CRASHED):
                self.repo.update_server(
                    server_id, expect={"host": host, "task_state": None,
                                       "vm_state": (states.ACTIVE, states.STOPPED)},
                    vm_state=states.STOPPED, power_state=power_state)

    def reconcile_host(self, report: dict, restarted: bool) -> list[str]:
        """Compare an agent's domains with the database; return the ids it must delete."""
        host = report["host"]
        present = {k: int(v) for k, v in report.get("instances", {}).items()}
        building = set(report.get("building", []))
        mine = {s["id"]: s for s in self.repo.servers_on_host(host)}
        to_delete = [sid for sid in present if sid not in mine and sid not in building
                     and not self._moving_from(sid, host)]
        if not restarted:
            return to_delete
        LOG.info("host %s (re)started: reconciling %d servers", host, len(mine))
        for server_id, server in mine.items():
            if server["vm_state"] == states.BUILDING and server["task_state"] == states.SPAWNING:
                if server_id not in building:
                    self.repo.set_error(
                        server_id, f"Build interrupted: compute host {host} restarted.",
                        expect={"host": host, "vm_state": states.BUILDING},
                    )
                    if server_id in present:
                        to_delete.append(server_id)
            elif server["task_state"] == states.DELETING:
                if server_id not in present:
                    self.repo.mark_deleted(server_id)
            elif server["vm_state"] in (states.ACTIVE, states.STOPPED):
                if server_id not in present:
                    self.repo.set_error(
                        server_id, f"Domain vanished from compute host {host}.",
                        power_state=states.NOSTATE,
                    )
                elif present[server_id] == states.RUNNING:
                    self.repo.update_server(server_id, vm_state=states.ACTIVE,
                                            task_state=None, power_state=states.RUNNING)
                else:
                    self.repo.update_server(server_id, vm_state=states.STOPPED,
                                            task_state=None, power_state=present[server_id])
        return to_delete

    def _moving_from(self, server_id: str, host: str) -> bool:
        """Is the server being resized or migrated away from `host` (its domain stays there
        until the source is set aside, and comes back on a revert)?"""
        try:
            return self.repo.get_server(server_id).get("old_host") == host
        except NotFound:
            return False

    # periodic ------------------------------------------------------------------------------
    def monitor_once(self, now: float | None = None) -> None:
        """Fail builds and finish deletes on hosts that stopped heartbeating, and run again
        the deletes whose run failed (DELETING for longer than a run can take)."""
        now = time.time() if now is None else now
        window = self.conf["heartbeat_window"]
        for host in self.hosts.stale_hosts(now, window):
            for server in self.repo.servers_on_host(host["name"]):
                if server["vm_state"] == states.BUILDING and now - server["updated_at"] > window:
                    self.repo.set_error(
                        server["id"],
                        f"Compute host {host['name']} stopped responding during the build.",
                        expect={"host": host["name"], "vm_state": states.BUILDING},
                    )
                elif server["task_state"] == states.DELETING:
                    self.repo.mark_deleted(server["id"])
        failed_before = now - self.conf["agent_timeout"] - window
        for server in self.repo.servers_with_task((states.DELETING,)):
            if server["updated_at"] < failed_before:
                LOG.warning("server %s: its delete did not finish; running it again",
                            server["id"])
                self.spawn(self.run_delete, server["id"])

    def monitor_loop(self, sleep) -> None:
        while True:
            sleep(self.conf["monitor_interval"])
            try:
                self.monitor_once()
            except Exception:
                LOG.exception("heartbeat monitor pass failed")

    def resume_after_restart(self) -> None:
        """Restart what an API restart interrupted: scheduling, power actions, deletes."""
        for server in self.repo.servers_with_task((states.SCHEDULING,)):
            self.start_build(server["id"])
        for server in self.repo.servers_with_task((states.BLOCK_DEVICE_MAPPING,)):
            self.repo.set_error(server["id"], "The API restarted while the boot volume was "
                                "being made.", expect={"task_state": states.BLOCK_DEVICE_MAPPING})
        for server in self.repo.servers_with_task(states.RESUMABLE_TASKS):
            if server["task_state"] == states.DELETING:
                self.spawn(self.run_delete, server["id"])
            else:
                self.spawn(self.run_action, server["id"], TASK_ACTIONS[server["task_state"]])
