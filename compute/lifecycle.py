"""Day-2 operations on the API side: snapshots and backups, shelve/unshelve, rebuild, resize
and cold migration (with confirm and revert), evacuation.

The API checks a request and marks the operation in flight (`begin`: a task state, set only
from the vm_states the operation allows and with no other task, else the caller answers 409);
the steps then run in a green thread, each a database change followed by (never inside) a
signed call to an agent (`compute.agent_lifecycle` does the disk and libvirt work there).
Every disk that leaves a host goes through the image service as a qcow2 image:

- createImage / createBackup: the agent copies the root disk (a running guest paused for the
  copy) into the image the API created; a backup then rotates the server's backups of its
  type (`compute.image_records.to_rotate`).
- shelve: a clean shutdown and the same copy; then, with `shelved_offload_time = 0`, the
  domain and its files are removed and the host freed (SHELVED_OFFLOADED, no host); unshelve
  claims a host anew (`compute.move_claims`), builds the server there from the image and
  deletes the image.
- resize / migrate: a host is claimed with the new flavor (the old host and flavor kept), the
  source copies the disk into a transfer image and sets its files aside (`<id>_resize`), the
  destination builds from the image (grown to the new flavor), the image is deleted:
  VERIFY_RESIZE. confirmResize removes the kept source; revertResize removes the new server
  and restores the old one, its host and its flavor.
- rebuild: the server is built again on its host from another image (same id, same ports).
- evacuate: a server of a host whose agent is down is built on another host from its newest
  backup, else from its image.

Each step records its result in the server's instance action (`compute.instance_actions`).
Operations interrupted by an API restart are settled by `recover_interrupted`.
"""
from __future__ import annotations

import logging
import time

from common.http_client import HTTPClientError
from compute import states
from compute.conductor import Conductor, build_request
from compute.image_lookup import BOOT_IMAGE_PROPERTIES
from compute.image_records import ImageRecordError, ImageRecords, to_rotate
from compute.move_claims import claim_move, flavor_of, undo_move
from compute.repo import NotFound
from compute.service_auth import agent_target
from compute.service_http import call

LOG = logging.getLogger("brume.compute.lifecycle")

# The vm_states each operation may start from (any other, or a task in flight: 409).
ALLOWED = {
    "createImage": (states.ACTIVE, states.STOPPED),
    "createBackup": (states.ACTIVE, states.STOPPED),
    "shelve": (states.ACTIVE, states.STOPPED),
    "shelveOffload": (states.SHELVED,),
    "unshelve": (states.SHELVED, states.SHELVED_OFFLOADED),
    "rebuild": (states.ACTIVE, states.STOPPED, states.ERROR),
    "resize": (states.ACTIVE, states.STOPPED),
    "migrate": (states.ACTIVE, states.STOPPED),
    "confirmResize": (states.RESIZED,),
    "revertResize": (states.RESIZED,),
    "evacuate": (states.ACTIVE, states.STOPPED, states.ERROR),
}
TASKS = {
    "createImage": states.IMAGE_SNAPSHOT,
    "createBackup": states.IMAGE_BACKUP,
    "shelve": states.SHELVING,
    "shelveOffload": states.SHELVING_OFFLOADING,
    "unshelve": states.UNSHELVING,
    "rebuild": states.REBUILDING,
    "resize": states.RESIZE_PREP,
    "migrate": states.RESIZE_PREP,
    "revertResize": states.RESIZE_REVERTING,
    "evacuate": states.REBUILDING,
}
# An API restart loses the green thread of these: the server goes back to rest (None) or,
# when its disk may be half moved, to ERROR.
SETTLE_AFTER_RESTART = {
    states.IMAGE_SNAPSHOT: None, states.IMAGE_BACKUP: None, states.SHELVING: None,
    states.SHELVING_OFFLOADING: None, states.UNSHELVING: None, states.RESIZE_PREP: None,
    states.REBUILDING: states.ERROR, states.RESIZE_MIGRATING: states.ERROR,
    states.RESIZE_FINISH: states.ERROR, states.RESIZE_REVERTING: states.ERROR,
}


def may_start(server: dict, operation: str) -> bool:
    """The state machine: may `operation` start on `server` now?"""
    return server["task_state"] is None and server["vm_state"] in ALLOWED[operation]


def final_vm_state(power_state: int) -> str:
    return states.ACTIVE if power_state == states.RUNNING else states.STOPPED


class Lifecycle:
    """Runs the day-2 operations (see the module docstring)."""

    def __init__(self, conductor: Conductor, records: ImageRecords):
        self.conductor = conductor
        self.repo = conductor.repo
        self.hosts = conductor.hosts
        self.db = conductor.db
        self.conf = conductor.conf
        self.actions = conductor.actions
        self.records = records

    # helpers ----------------------------------------------------------------------------
    def begin(self, server: dict, operation: str, **changes) -> dict | None:
        """Mark `operation` in flight on the server; None when its state does not allow it
        (checked in the same transaction as the change)."""
        return self.repo.update_server(
            server["id"], expect={"vm_state": ALLOWED[operation], "task_state": None},
            task_state=TASKS[operation], **changes)

    def _agent(self, host: dict, method: str, path: str, body: dict | None = None) -> dict:
        return call(host["agent_url"], method, path, self.conf["service_secret"], body,
                    timeout=self.conf["move_timeout"], target=agent_target(host["name"]))

    def _host(self, name: str | None) -> dict:
        host = self.hosts.get_host(name) if name else None
        if host is None:
            raise HTTPClientError(f"host {name} is not registered")
        return host

    def _spawn_on(self, host: dict, server: dict, image_meta: dict, start: bool,
                  replace: bool) -> int:
        body = build_request(server)
        body["image_meta"] = {key: value for key, value in image_meta.items()
                              if key not in BOOT_IMAGE_PROPERTIES}
        body.update(start=start, replace=replace)
        answer = self._agent(host, "POST", f"/v1/instances/{server['id']}/spawn", body)
        return int(answer.get("power_state", states.NOSTATE))

    def drop_image(self, token: str, image_id: str | None) -> None:
        if not image_id:
            return
        try:
            self.records.delete(token, image_id)
        except ImageRecordError as exc:
            LOG.warning("image %s not deleted: %s", image_id, exc)

    def _finish(self, server_id: str, action: str, ok: bool, detail: str | None = None,
                host: str | None = None) -> None:
        self.actions.finish(server_id, action, ok, detail, host=host)
        if not ok:
            LOG.warning("server %s: %s failed: %s", server_id, action, detail)

    def _run(self, function, *args) -> None:
        self.conductor.spawn(function, *args)

    # snapshots and backups ---------------------------------------------------------------
    def snapshot(self, server_id: str, image_id: str, token: str, action: str,
                 backup: tuple[str, int] | None = None) -> None:
        self._run(self._snapshot, server_id, image_id, token, action, backup)

    def _snapshot(self, server_id, image_id, token, action, backup) -> None:
        task = TASKS[action]
        server = self.repo.get_server(server_id)
        ok, detail = False, None
        try:
            self._agent(self._host(server["host"]), "POST",
                        f"/v1/instances/{server_id}/snapshot",
                        {"image_id": image_id, "stop": False})
            ok = True
        except HTTPClientError as exc:
            detail = str(exc)
            self.drop_image(token, image_id)
        finally:
            self.repo.update_server(server_id, expect={"task_state": task}, task_state=None)
        if ok and backup is not None:
            self.rotate(token, server_id, backup[0], backup[1], image_id)
        self._finish(server_id, action, ok, detail, server["host"])

    def rotate(self, token: str, server_id: str, backup_type: str, rotation: int,
               newest: str) -> list[str]:
        """Delete the server's backups of `backup_type` beyond the `rotation` newest."""
        try:
            backups = self.records.backups(token, server_id, backup_type)
        except ImageRecordError as exc:
            LOG.warning("server %s: backups not rotated: %s", server_id, exc)
            return []
        doomed = to_rotate(backups, rotation, newest)
        for image_id in doomed:
            self.drop_image(token, image_id)
        return doomed

    # shelve --------------------------------------------------------------------------------
    def shelve(self, server_id: str, image_id: str, token: str) -> None:
        self._run(self._shelve, server_id, image_id, token)

    def _shelve(self, server_id, image_id, token) -> None:
        server = self.repo.get_server(server_id)
        try:
            self._agent(self._host(server["host"]), "POST",
                        f"/v1/instances/{server_id}/snapshot",
                        {"image_id": image_id, "stop": True})
        except HTTPClientError as exc:
            self.drop_image(token, image_id)
            self.repo.update_server(server_id, expect={"task_state": states.SHELVING},
                                    task_state=None)
            self._finish(server_id, "shelve", False, str(exc), server["host"])
            return
        offload = self.conf["shelved_offload_time"] == 0
        self.repo.update_server(
            server_id, expect={"task_state": states.SHELVING}, vm_state=states.SHELVED,
            task_state=states.SHELVING_OFFLOADING if offload else None,
            power_state=states.SHUTDOWN, shelved_image_id=image_id)
        if offload:
            self._offload(server_id)
        self._finish(server_id, "shelve", True, host=server["host"])

    def shelve_offload(self, server_id: str) -> None:
        self._run(self._shelve_offload, server_id)

    def _shelve_offload(self, server_id) -> None:
        ok = self._offload(server_id)
        self._finish(server_id, "shelveOffload", ok, None if ok else "offload failed")

    def _offload(self, server_id: str) -> bool:
        """Remove the shelved server from its host and free the host."""
        server = self.repo.get_server(server_id)
        try:
            self._agent(self._host(server["host"]), "DELETE", f"/v1/instances/{server_id}")
        except HTTPClientError as exc:
            if exc.status not in (None, 404):  # unreachable: it removes it when it is back
                LOG.warning("server %s: offload failed: %s", server_id, exc)
                self.repo.update_server(server_id, expect={
                    "task_state": states.SHELVING_OFFLOADING}, task_state=None)
                return False
        return self.repo.update_server(
            server_id, expect={"task_state": states.SHELVING_OFFLOADING},
            vm_state=states.SHELVED_OFFLOADED, task_state=None, host=None,
            power_state=states.NOSTATE) is not None

    def unshelve(self, server_id: str, image_meta: dict, token: str) -> None:
        self._run(self._unshelve, server_id, image_meta, token)

    def _unshelve(self, server_id, image_meta, token) -> None:
        server = self.repo.get_server(server_id)
        task = states.UNSHELVING
        if server["vm_state"] == states.SHELVED:  # still on its host: start it again
            try:
                answer = self._agent(self._host(server["host"]), "POST",
                                     f"/v1/instances/{server_id}/action", {"action": "start"})
            except HTTPClientError as exc:
                self.repo.update_server(server_id, expect={"task_state": task},
                                        task_state=None)
                self._finish(server_id, "unshelve", False, str(exc), server["host"])
                return
            power_state = int(answer.get("power_state", states.NOSTATE))
            host_name = server["host"]
        else:
            host = claim_move(self.db, server_id, task, task, self.conductor.policy,
                              self.conf["heartbeat_window"], flavor=flavor_of(server))
            if host is None:
                self.repo.update_server(server_id, expect={"task_state": task},
                                        task_state=None, host=None)
                self._finish(server_id, "unshelve", False, "No valid host was found.")
                return
            host_name = host["name"]
            try:
                power_state = self._spawn_on(host, self.repo.get_server(server_id), image_meta,
                                             start=True, replace=False)
            except HTTPClientError as exc:
                self.repo.update_server(server_id, expect={"task_state": task},
                                        task_state=None, host=None)
                self._finish(server_id, "unshelve", False, str(exc), host_name)
                return
        self.repo.update_server(server_id, expect={"task_state": task},
                                vm_state=final_vm_state(power_state), task_state=None,
                                power_state=power_state, shelved_image_id=None)
        self.drop_image(token, image_meta.get("id"))
        self._finish(server_id, "unshelve", True, host=host_name)

    # rebuild and evacuate ------------------------------------------------------------------
    def rebuild(self, server_id: str, start: bool) -> None:
        self._run(self._rebuild, server_id, start)

    def _rebuild(self, server_id, start) -> None:
        server = self.repo.get_server(server_id)
        try:
            power_state = self._spawn_on(self._host(server["host"]), server,
                                         server["image_meta"], start=start, replace=True)
        except HTTPClientError as exc:
            self.repo.set_error(server_id, f"Rebuild failed: {exc}",
                                expect={"task_state": states.REBUILDING})
            self._finish(server_id, "rebuild", False, str(exc), server["host"])
            return
        self.repo.update_server(server_id, expect={"task_state": states.REBUILDING},
                                vm_state=final_vm_state(power_state), task_state=None,
                                power_state=power_state, launched_at=time.time())
        self._finish(server_id, "rebuild", True, host=server["host"])

    def evacuate(self, server_id: str, image_meta: dict, target: str | None,
                 start: bool) -> None:
        self._run(self._evacuate, server_id, image_meta, target, start)

    def _evacuate(self, server_id, image_meta, target, start) -> None:
        server = self.repo.get_server(server_id)
        task = states.REBUILDING
        old = server["host"]
        host = claim_move(self.db, server_id, task, task, self.conductor.policy,
                          self.conf["heartbeat_window"], flavor=flavor_of(server),
                          exclude=frozenset({old} if old else ()), force_host=target)
        if host is None:
            self.repo.update_server(server_id, expect={"task_state": task}, task_state=None)
            self._finish(server_id, "evacuate", False, "No valid host was found.", old)
            return
        try:
            power_state = self._spawn_on(host, self.repo.get_server(server_id), image_meta,
                                         start=start, replace=True)
        except HTTPClientError as exc:
            self.repo.set_error(server_id, f"Evacuation to {host['name']} failed: {exc}",
                                expect={"task_state": task})
            self._finish(server_id, "evacuate", False, str(exc), host["name"])
            return
        self.repo.update_server(server_id, expect={"task_state": task},
                                vm_state=final_vm_state(power_state), task_state=None,
                                power_state=power_state, fault_message=None)
        LOG.info("server %s evacuated from %s to %s (image %s)", server_id, old, host["name"],
                 image_meta.get("id"))
        self._finish(server_id, "evacuate", True, host=host["name"])

    # resize and cold migration -------------------------------------------------------------
    def resize(self, server_id: str, action: str, flavor: dict, image_id: str, token: str,
               exclude: frozenset, target: str | None) -> None:
        self._run(self._resize, server_id, action, flavor, image_id, token, exclude, target)

    def _resize(self, server_id, action, flavor, image_id, token, exclude, target) -> None:
        server = self.repo.get_server(server_id)
        source = server["host"]
        start = server["vm_state"] == states.ACTIVE
        dest = claim_move(self.db, server_id, states.RESIZE_PREP, states.RESIZE_MIGRATING,
                          self.conductor.policy, self.conf["heartbeat_window"], flavor=flavor,
                          exclude=exclude, force_host=target, keep_source=True)
        if dest is None:
            self.repo.update_server(server_id, expect={"task_state": states.RESIZE_PREP},
                                    task_state=None)
            self.drop_image(token, image_id)
            self._finish(server_id, action, False, "No valid host was found.", source)
            return
        try:
            source_host = self._host(source)
            answer = self._agent(source_host, "POST", f"/v1/instances/{server_id}/snapshot",
                                 {"image_id": image_id, "stop": True})
            self._agent(source_host, "POST", f"/v1/instances/{server_id}/stash", {})
        except HTTPClientError as exc:
            undo_move(self.db, server_id, states.RESIZE_MIGRATING, task_state=None)
            self.drop_image(token, image_id)
            self._finish(server_id, action, False, str(exc), source)
            return
        self.repo.update_server(server_id, expect={"task_state": states.RESIZE_MIGRATING},
                                task_state=states.RESIZE_FINISH)
        try:
            power_state = self._spawn_on(dest, self.repo.get_server(server_id),
                                         answer["image"], start=start, replace=False)
        except HTTPClientError as exc:
            try:
                self._agent(source_host, "POST", f"/v1/instances/{server_id}/unstash",
                            {"start": start})
            except HTTPClientError as again:
                LOG.error("server %s: source not restored after a failed %s: %s", server_id,
                          action, again)
            undo_move(self.db, server_id, states.RESIZE_FINISH, task_state=None)
            self.drop_image(token, image_id)
            self._finish(server_id, action, False, str(exc), dest["name"])
            return
        self.repo.update_server(server_id, expect={"task_state": states.RESIZE_FINISH},
                                vm_state=states.RESIZED, task_state=None,
                                power_state=power_state)
        self.drop_image(token, image_id)
        self._finish(server_id, action, True, host=dest["name"])

    def confirm_resize(self, server: dict) -> dict | None:
        """Accept the moved server now; its kept source is removed in the background."""
        vm_state = server.get("old_vm_state") or final_vm_state(server["power_state"])
        if vm_state not in (states.ACTIVE, states.STOPPED):
            vm_state = final_vm_state(server["power_state"])
        confirmed = self.repo.update_server(
            server["id"], expect={"vm_state": states.RESIZED, "task_state": None},
            vm_state=vm_state, old_host=None, old_flavor=None, old_vm_state=None)
        if confirmed is not None:
            self._run(self._drop_source, server["id"], server["old_host"])
        return confirmed

    def _drop_source(self, server_id: str, source: str | None) -> None:
        ok, detail = True, None
        try:
            self._agent(self._host(source), "DELETE", f"/v1/instances/{server_id}/stash")
        except HTTPClientError as exc:  # a dead source host keeps a stale copy: logged
            ok, detail = False, str(exc)
        self._finish(server_id, "confirmResize", ok, detail, source)

    def revert_resize(self, server_id: str) -> None:
        self._run(self._revert, server_id)

    def _revert(self, server_id) -> None:
        server = self.repo.get_server(server_id)
        task = states.RESIZE_REVERTING
        start = server["old_vm_state"] == states.ACTIVE
        try:
            self._agent(self._host(server["host"]), "DELETE", f"/v1/instances/{server_id}")
        except HTTPClientError as exc:
            if exc.status != 404:
                self.repo.update_server(server_id, expect={"task_state": task},
                                        task_state=None)
                self._finish(server_id, "revertResize", False, str(exc), server["host"])
                return
        try:
            answer = self._agent(self._host(server["old_host"]), "POST",
                                 f"/v1/instances/{server_id}/unstash", {"start": start})
        except HTTPClientError as exc:
            undo_move(self.db, server_id, task, vm_state=states.ERROR, task_state=None,
                      fault_message=f"Revert failed: {exc}", fault_code=500,
                      fault_created=time.time())
            self._finish(server_id, "revertResize", False, str(exc), server["old_host"])
            return
        power_state = int(answer.get("power_state", states.NOSTATE))
        undo_move(self.db, server_id, task, vm_state=final_vm_state(power_state),
                  task_state=None, power_state=power_state)
        self._finish(server_id, "revertResize", True, host=server["old_host"])

    # API restarts --------------------------------------------------------------------------
    def recover_interrupted(self) -> None:
        for server in self.repo.servers_with_task(tuple(SETTLE_AFTER_RESTART)):
            settled = SETTLE_AFTER_RESTART[server["task_state"]]
            try:
                if settled == states.ERROR:
                    self.repo.set_error(server["id"], "Operation interrupted by a restart of "
                                        "the compute API.",
                                        expect={"task_state": server["task_state"]})
                else:
                    self.repo.update_server(server["id"],
                                            expect={"task_state": server["task_state"]},
                                            task_state=None)
            except NotFound:
                continue
