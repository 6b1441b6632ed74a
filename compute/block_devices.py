"""A server's volumes as compute records them (`servers.block_devices`), and the
`block_device_mapping_v2` of a boot, checked (no IO).

A record is `{"volume_id", "attachment_id", "device", "boot_index", "delete_on_termination",
"connection_info"}`: the attachment the volume service made for this server and what a
hypervisor opens (`connection_info`, an NBD export). `device` is the guest's disk name:
`vda` for the boot volume, then `vdb`, `vdc`, ... in attach order (`next_device`).

Boot from volume (Nova's shapes): one mapping with `boot_index` 0 and
`destination_type: volume`, either `source_type: image` (a new volume of `volume_size` GiB
made from the image `uuid`; `delete_on_termination` defaults to false as in Nova) or
`source_type: volume` (the existing volume `uuid`). A boot mapping `source_type: image,
destination_type: local` (what the openstack CLI sends with `--image`) is the image's local
root disk, a boot without volumes (`local_root_image`). Other mappings (blank or existing
volumes beside the root, local swap or ephemeral disks) are refused with a 400 rather than
silently ignored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from common.http_errors import HTTPError

DEVICE_LETTERS = "abcdefghijklmnopqrstuvwxyz"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
BDM_KEYS = {"boot_index", "uuid", "source_type", "destination_type", "volume_size",
            "delete_on_termination", "device_name", "disk_bus", "device_type", "tag",
            "guest_format", "volume_type"}


@dataclass(frozen=True)
class BootVolume:
    """What a boot from volume asks for."""

    source: str  # "image" (make a volume from it) or "volume" (use this one)
    uuid: str
    size_gb: int | None  # for an image: the new volume's size
    delete_on_termination: bool


def _bad(message: str) -> HTTPError:
    return HTTPError(400, f"Invalid input: block_device_mapping_v2: {message}")


def _boot_index(value) -> int | None:
    if value is None or value == "none":
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad("boot_index must be an integer.")
    return value


def parse_bdm(mappings) -> BootVolume | None:
    """The boot volume of a server create's `block_device_mapping_v2` (None when absent)."""
    if mappings is None:
        return None
    if not isinstance(mappings, list) or len(mappings) > 16:
        raise _bad("a list of at most 16 mappings is expected.")
    boot, local_seen = None, False
    for mapping in mappings:
        if not isinstance(mapping, dict):
            raise _bad("each mapping must be an object.")
        unknown = set(mapping) - BDM_KEYS
        if unknown:
            raise _bad(f"unknown attribute(s) {', '.join(sorted(map(str, unknown)))}.")
        index = _boot_index(mapping.get("boot_index"))
        source, destination = mapping.get("source_type"), mapping.get("destination_type")
        if index != 0:
            raise _bad("only the boot volume (boot_index 0) is supported; attach other "
                       "volumes with os-volume_attachments.")
        if boot is not None or (local_seen and index == 0):
            raise _bad("only one mapping may have boot_index 0.")
        if (source, destination) == ("image", "local"):
            local_seen = True  # the image's root disk on the host: a plain image boot
            continue
        if destination != "volume" or source not in ("image", "volume"):
            raise _bad("the boot mapping must be source_type image or volume with "
                       "destination_type volume.")
        uuid = mapping.get("uuid")
        if not isinstance(uuid, str) or not UUID_RE.match(uuid):
            raise _bad("uuid must be an image or volume id.")
        size = mapping.get("volume_size")
        if isinstance(size, str) and size.isdigit():
            size = int(size)
        if source == "image":
            if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= 65536:
                raise _bad("volume_size (GiB, a positive integer) is required to make a "
                           "volume from an image.")
        elif size is not None:
            raise _bad("volume_size is only for a volume made from an image.")
        delete = mapping.get("delete_on_termination", False)
        if not isinstance(delete, bool):
            raise _bad("delete_on_termination must be a boolean.")
        boot = BootVolume(source, uuid, size, delete)
    return boot


def local_root_image(mappings) -> str | None:
    """The image of a boot mapping `source_type: image, destination_type: local` (checked by
    `parse_bdm` first), or None."""
    for mapping in mappings or []:
        if (mapping.get("source_type"), mapping.get("destination_type")) == ("image", "local"):
            uuid = mapping.get("uuid")
            return uuid if isinstance(uuid, str) else None
    return None


def next_device(records: list[dict]) -> str:
    """The first free `vdX` name after the root disk (`vda`)."""
    used = {record["device"] for record in records} | {"vda"}
    for letter in DEVICE_LETTERS[1:]:
        if f"vd{letter}" not in used:
            return f"vd{letter}"
    raise HTTPError(409, "No free disk name left on this server.")


def record(attachment: dict, volume_id: str, device: str, boot_index: int | None = None,
           delete_on_termination: bool = False) -> dict:
    return {"volume_id": volume_id, "attachment_id": attachment["id"], "device": device,
            "boot_index": boot_index, "delete_on_termination": delete_on_termination,
            "connection_info": attachment.get("connection_info") or {}}


def attachment_view(server_id: str, item: dict) -> dict:
    """Nova's `volumeAttachment` of one record."""
    return {"id": item["volume_id"], "volumeId": item["volume_id"], "serverId": server_id,
            "device": f"/dev/{item['device']}", "tag": None,
            "delete_on_termination": bool(item["delete_on_termination"])}


def boot_volume(records: list[dict]) -> dict | None:
    return next((item for item in records if item.get("boot_index") == 0), None)
