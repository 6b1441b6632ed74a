"""Boot from volume: the server's root disk is a volume of the block-storage service.

`check(...)` runs in the create request, before the server exists: an image to make the
volume from must be visible to the caller, active and fit `volume_size` (and the flavor's
RAM); an existing volume must be visible and `available`. `attach_existing(...)` attaches
that volume to the new server at once (so a volume in use is a 409 of the create, and a
later refusal of the create detaches it again). A volume made from an image takes a while:
`start(...)` runs `prepare_and_build` in a green thread with the caller's token (held in
memory only, never stored): the volume is created, waited for (`available`, within
`boot_volume_timeout`), attached and recorded, then the build is scheduled as any other.
Meanwhile the server is BUILD with task `block_device_mapping`; a failure puts it in ERROR
with the reason (the volume stays, as in Nova, unless delete_on_termination). An API
restart during that wait puts the server in ERROR too (the token is gone).
"""
from __future__ import annotations

import logging
import math
import time

from common.http_errors import HTTPError
from compute import block_devices, states
from compute.block_devices import BootVolume
from compute.server_volumes import release_all, volume_error
from compute.volume_client import VolumeError

LOG = logging.getLogger("brume.compute.boot_volumes")
GiB = 1024**3
POLL = 2.0


def check(core, token: str, project: str, boot: BootVolume, flavor: dict) -> dict:
    """The image (for source image) or volume record the boot relies on; 4xx otherwise."""
    if core.volumes is None:
        raise HTTPError(400, "Volumes are not available in this cloud.")
    if boot.source == "image":
        image = core.fetch_image(boot.uuid, token)
        if image.get("status") != "active":
            raise HTTPError(400, f"Image {boot.uuid} is not active.")
        needed = max(int(image.get("min_disk") or 0),
                     math.ceil(int(image.get("virtual_size") or image.get("size") or 0) / GiB))
        if boot.size_gb < needed:
            raise HTTPError(400, f"Volume size {boot.size_gb} GiB is smaller than the image "
                                 f"needs ({needed} GiB).")
        if int(image.get("min_ram") or 0) > int(flavor["ram"]):
            raise HTTPError(400, "Flavor's memory is too small for requested image.")
        return image
    try:
        volume = core.volumes.get_volume(token, project, boot.uuid)
    except VolumeError as exc:
        if exc.status == 404:
            raise HTTPError(400, f"Volume {boot.uuid} could not be found.") from None
        raise volume_error(exc) from None
    if volume.get("status") != "available":
        raise HTTPError(409, f"Volume {boot.uuid} is {volume.get('status')}, not available.")
    return volume


def attach_existing(core, token: str, project: str, server_id: str, boot: BootVolume) -> dict:
    """Attach the boot volume to the (not yet inserted) server; its record."""
    try:
        attachment = core.volumes.attach(token, project, boot.uuid, server_id,
                                         {"host": "", "mountpoint": "/dev/vda"})
        core.volumes.complete(token, project, attachment["id"])
    except VolumeError as exc:
        raise volume_error(exc) from None
    return block_devices.record(attachment, boot.uuid, "vda", 0, boot.delete_on_termination)


def start(core, token: str, server_id: str, boot: BootVolume, name: str) -> None:
    core.repo.update_server(server_id, task_state=states.BLOCK_DEVICE_MAPPING)
    core.conductor.spawn(prepare_and_build, core, token, server_id, boot, name)


def prepare_and_build(core, token: str, server_id: str, boot: BootVolume, name: str) -> None:
    server = core.repo.get_server(server_id)
    project = server["project_id"]
    try:
        volume = core.volumes.create_volume(token, project, {
            "size": boot.size_gb, "imageRef": boot.uuid, "name": f"{name}-boot"[:255]})
        _wait_available(core, token, project, volume["id"])
        attachment = core.volumes.attach(token, project, volume["id"], server_id,
                                         {"host": "", "mountpoint": "/dev/vda"})
        core.volumes.complete(token, project, attachment["id"])
    except (VolumeError, TimeoutError) as exc:
        LOG.warning("server %s: boot volume failed: %s", server_id, exc)
        core.repo.set_error(server_id, f"Build of instance {server_id} aborted: the boot "
                                       f"volume could not be made: {exc}",
                            expect={"task_state": states.BLOCK_DEVICE_MAPPING})
        return
    item = block_devices.record(attachment, volume["id"], "vda", 0,
                                boot.delete_on_termination)
    updated = core.repo.update_server(
        server_id, expect={"task_state": states.BLOCK_DEVICE_MAPPING},
        block_devices=[item], task_state=states.SCHEDULING)
    if updated is None:  # deleted meanwhile: give the volume back
        release_all(core, token, {**server, "block_devices": [item]})
        return
    core.conductor.start_build(server_id)


def _wait_available(core, token: str, project: str, volume_id: str) -> None:
    deadline = time.monotonic() + core.conf["boot_volume_timeout"]
    while True:
        status = core.volumes.get_volume(token, project, volume_id).get("status")
        if status == "available":
            return
        if status != "creating":
            raise VolumeError(f"volume {volume_id} is {status}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"volume {volume_id} still creating after "
                               f"{core.conf['boot_volume_timeout']:g} s")
        time.sleep(POLL)
