"""The compute agent's day-2 work on its hypervisor: root-disk snapshots into the image
service, the two halves of a move, and spawns the API waits for.

- `snapshot(server_id, image_id, stop)`: a consistent copy of the root disk uploaded as the
  bytes of the queued image `image_id` (created by the API with its caller's token). A
  running guest is paused for the copy (QEMU drains and flushes the disk when it pauses)
  and resumed; `stop` shuts it down cleanly first and leaves it off (shelve, resize, cold
  migration). The copy (`qemu-img convert` of the overlay and its backing chain, into
  `<instances_dir>/.snapshots/`) is uploaded through the image service's own upload path
  (size, checksums and format inspection, as for any upload) and removed.
- `spawn(...)`: build the server here now (unshelve, rebuild, the destination of a resize or
  migration, an evacuation) from the image the API names; `replace` destroys what is here
  first (rebuild).
- `stash` / `unstash` / `drop_stash`: a move's source, kept aside until confirmResize
  (dropped) or revertResize (restored, started again if it was running).

Each step holds the server's lock; the upload runs after it is released (the copy is the
agent's own file by then).
"""
from __future__ import annotations

import logging
import os

from common.http_client import HTTPClientError
from common.v1_auth import V1Session
from compute.driver import DriverError, InstanceNotFound
from compute.image_source import ImageSource
from compute.instance_disks import DiskError, flatten_copy

LOG = logging.getLogger("brume.compute.agent_lifecycle")

SNAPSHOT_DIR = ".snapshots"


class LifecycleWork:
    """Day-2 operations of one agent (`compute.agent.Agent`)."""

    def __init__(self, agent, images: ImageSource | None = None):
        self.agent = agent
        conf = agent.conf
        if images is None:
            images = getattr(agent.driver.builder, "images", None)
        if images is None:
            session = V1Session(conf["auth_url"], conf["service_user"], conf["service_key"])
            images = ImageSource(conf["image_url"], session)
        self.images = images

    @property
    def driver(self):
        return self.agent.driver

    def _remember_power(self, server_id: str) -> int:
        power_state = self.driver.get_info(server_id).power_state
        self.agent._last_power[server_id] = power_state
        return power_state

    def snapshot(self, server_id: str, image_id: str, stop: bool) -> dict:
        """Copy the root disk into image `image_id`; its record and the power state."""
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise DriverError(f"invalid image id {image_id!r}")
        folder = os.path.join(self.driver.instances_dir, SNAPSHOT_DIR)
        os.makedirs(folder, exist_ok=True)
        copy = os.path.join(folder, f"{image_id}.qcow2")
        try:
            with self.agent.lock(server_id):
                disk = self.driver.root_disk(server_id)
                if stop:
                    self.driver.power_off(server_id, sleep=self.agent.green.sleep)
                power_state = self._remember_power(server_id)
                if self.driver.is_running(server_id):
                    self.driver.suspend(server_id)
                    try:
                        flatten_copy(disk, copy)
                    finally:
                        self.driver.resume(server_id)
                else:
                    flatten_copy(disk, copy)
            LOG.info("server %s: uploading its root disk as image %s (%d bytes)", server_id,
                     image_id, os.path.getsize(copy))
            self.images.upload(image_id, copy)
            record = self.images.get_meta(image_id)
        except HTTPClientError as exc:
            raise DriverError(f"snapshot upload failed: {exc}") from None
        except (DiskError, OSError) as exc:
            raise DriverError(f"snapshot failed: {exc}") from None
        finally:
            if os.path.exists(copy):
                os.unlink(copy)
        return {"image": record, "power_state": power_state}

    def spawn(self, instance: dict, flavor: dict, image_meta: dict, start: bool,
              replace: bool) -> int:
        """Build the server here now; its power state."""
        server_id = instance["id"]
        with self.agent.lock(server_id):
            if replace:
                self.driver.destroy(server_id)
            else:
                try:
                    self.driver.get_info(server_id)
                except InstanceNotFound:
                    pass
                else:
                    raise DriverError(f"instance {server_id} already exists on this host")
            self.driver.spawn(instance, image_meta, flavor, start=start)
            return self._remember_power(server_id)

    def stash(self, server_id: str) -> None:
        with self.agent.lock(server_id):
            self.driver.stash(server_id)
        self.agent._forget(server_id)

    def unstash(self, server_id: str, start: bool) -> int:
        with self.agent.lock(server_id):
            self.driver.unstash(server_id, start)
            return self._remember_power(server_id)

    def drop_stash(self, server_id: str) -> None:
        with self.agent.lock(server_id):
            self.driver.drop_stash(server_id)
