"""`/v3/{project_id}/volumes`: create (blank, from an image, a snapshot, a volume), list,
show, update, delete, and the `os-extend` / `os-set_bootable` / `os-reset_status` actions.

A create checks everything (size, source, the caller's access to the image, the quota)
before one transaction inserts the volume `creating`; the file is then made in a green
thread (`available`, or `error` with the reason logged). A blank volume or a copy of a
snapshot is quick; an image is downloaded with the caller's token and converted to raw.
"""
from __future__ import annotations

import logging
import math
import os

from common.http_errors import HTTPError
from volume import quotas, states, views, web
from volume.disks import DiskError, GiB
from volume.image_source import ImageError
from volume.service import VolumeService, new_id

log = logging.getLogger("brume.volume")

CREATE_KEYS = {"size", "name", "description", "display_name", "display_description",
               "imageRef", "snapshot_id", "source_volid", "metadata", "availability_zone",
               "volume_type", "multiattach", "backup_id", "consistencygroup_id", "group_id",
               "scheduler_hints"}


def base_url(service: VolumeService, req) -> str:
    return service.config.public_url or req.host_url


def over_quota(exc: quotas.OverQuota) -> HTTPError:
    return HTTPError(413, str(exc))


def conflict(exc: states.InvalidState) -> HTTPError:
    return HTTPError(409, str(exc))


def attachments_of(service: VolumeService, volume_id: str) -> list[dict]:
    return service.store.select("attachments", "volume_id = ?", (volume_id,))


def render(service: VolumeService, req, row: dict, detail: bool = True) -> dict:
    return views.volume(row, base_url(service, req), attachments_of(service, row["id"]),
                        detail)


def insert_volume(service: VolumeService, tx, caller, project_id: str, values: dict) -> dict:
    """Insert a `creating` volume within the project's quota (inside `tx`)."""
    quotas.check(tx.limits(project_id, service.config.quotas), tx.usage(project_id),
                 {"volumes": 1, "gigabytes": values["size"],
                  "per_volume_gigabytes": values["size"]})
    now = web.now()
    row = {"id": new_id(), "project_id": project_id, "user_id": caller.user_id,
           "status": states.CREATING, "availability_zone": service.config.availability_zone,
           "bootable": 0, "snapshot_id": None, "source_volid": None, "image_id": None,
           "image_meta": {}, "metadata": {}, "name": None, "description": None,
           "created_at": now, "updated_at": now, **values}
    tx.insert("volumes", row)
    return row


def create(service: VolumeService, req, project_id: str):
    caller = service.caller(req, project_id)
    doc = web.json_body(req, "volume")
    web.check_keys(doc, CREATE_KEYS, "volume")
    name = web.text(doc, "name") or web.text(doc, "display_name")
    description = web.text(doc, "description") or web.text(doc, "display_description")
    metadata = web.metadata(doc) or {}
    zone = web.text(doc, "availability_zone")
    if zone and zone != service.config.availability_zone:
        raise web.bad_request(f"Invalid input received: Availability zone '{web.short(zone)}'"
                              " is invalid.")
    if web.boolean(doc, "multiattach"):
        raise web.bad_request("Invalid input received: multiattach volumes are not supported.")
    sources = [key for key in ("imageRef", "snapshot_id", "source_volid", "backup_id")
               if doc.get(key) is not None]
    if len(sources) > 1:
        raise web.bad_request("Invalid input received: give at most one of imageRef, "
                              "snapshot_id, source_volid and backup_id.")
    if doc.get("backup_id") is not None:
        raise web.bad_request("Invalid input received: restore a backup with "
                              "POST /backups/{id}/restore.")
    size = None if doc.get("size") is None else web.size_gb(
        doc["size"], maximum=service.config.max_volume_gb)
    values = {"name": name, "description": description, "metadata": metadata}
    source_path, image = None, None
    if doc.get("snapshot_id") is not None:
        snapshot = _source(service, "snapshots", web.ident(doc, "snapshot_id"), project_id)
        source_path = service.files.snapshot_path(snapshot["id"])
        size = _at_least(size, snapshot["size"], "snapshot")
        source = service.store.get("volumes", snapshot["volume_id"])
        values.update(snapshot_id=snapshot["id"],
                      bootable=source["bootable"] if source else 0,
                      image_meta=source["image_meta"] if source else {})
    elif doc.get("source_volid") is not None:
        source = _source(service, "volumes", web.ident(doc, "source_volid"), project_id)
        try:
            states.require("clone", source["status"], "Source volume")
        except states.InvalidState as exc:
            raise conflict(exc) from None
        source_path = service.files.volume_path(source["id"])
        size = _at_least(size, source["size"], "source volume")
        values.update(source_volid=source["id"], bootable=source["bootable"],
                      image_meta=source["image_meta"])
    elif doc.get("imageRef") is not None:
        image_id = web.ident(doc, "imageRef").rstrip("/").rsplit("/", 1)[-1]
        try:
            image = service.images.lookup(image_id, req.headers.get("X-Auth-Token", ""))
        except ImageError as exc:
            raise HTTPError(exc.status, str(exc)) from None
        needed = max(int(image.get("min_disk") or 0),
                     math.ceil(int(image.get("virtual_size") or image.get("size") or 0) / GiB))
        size = _at_least(size, max(needed, 1), "image")
        values.update(image_id=image_id, bootable=1, image_meta={
            key: str(image[key]) for key in ("id", "name", "disk_format", "container_format",
                                             "checksum", "size", "min_disk", "min_ram")
            if image.get(key) is not None} | {"image_id": image_id})
        values["image_meta"].pop("id", None)
    if size is None:
        raise web.bad_request("Invalid input received: size is required.")
    values["size"] = size
    try:
        with service.store.write() as tx:
            row = insert_volume(service, tx, caller, project_id, values)
    except quotas.OverQuota as exc:
        raise over_quota(exc) from None
    token = req.headers.get("X-Auth-Token", "")
    service.run_job(make_volume, service, row, source_path, image, token)
    return web.json_response({"volume": render(service, req, row)}, 202)


def _source(service: VolumeService, table: str, ident: str, project_id: str) -> dict:
    row = service.store.get(table, ident)
    if row is None or row["project_id"] != project_id:
        raise HTTPError(404, f"{'Snapshot' if table == 'snapshots' else 'Volume'} {ident} "
                             "could not be found.")
    if table == "snapshots" and row["status"] != states.AVAILABLE:
        raise HTTPError(409, f"Invalid snapshot: Originating snapshot status must be one of "
                             f"'available' values, but it is {row['status']}.")
    return row


def _at_least(size: int | None, minimum: int, what: str) -> int:
    if size is None:
        return minimum
    if size < minimum:
        raise web.bad_request(f"Invalid input received: Volume size '{size}'GB cannot be "
                              f"smaller than the {what} size {minimum}GB.")
    return size


def make_volume(service: VolumeService, row: dict, source_path: str | None,
                image: dict | None, token: str) -> None:
    """The job of a create: make the file, then `available` (or `error`)."""
    path = service.files.volume_path(row["id"])
    status = states.AVAILABLE
    try:
        if image is not None:
            download = path + ".image"
            try:
                service.images.download(image, token, download)
                service.files.from_image(download, image["disk_format"], path, row["size"])
            finally:
                if os.path.exists(download):
                    os.unlink(download)
        elif source_path is not None:
            service.files.copy(source_path, path, row["size"])
        else:
            service.files.create_blank(path, row["size"])
    except (DiskError, ImageError, OSError) as exc:
        log.warning("volume %s could not be made: %s", row["id"], exc)
        status = states.ERROR
    set_status(service, "volumes", row["id"], status, expect=states.CREATING)


def set_status(service: VolumeService, table: str, ident: str, status: str,
               expect: str | None = None, **values) -> bool:
    """Set a row's status (only from `expect`, when given); False if that did not hold."""
    with service.store.write() as tx:
        row = tx.get(table, ident)
        if row is None or (expect is not None and row["status"] != expect):
            return False
        changes = {"status": status, **values}
        if table != "attachments":
            changes["updated_at"] = web.now()
        tx.update(table, ident, changes)
        return True


def _listing(service: VolumeService, req, project_id: str, detail: bool):
    caller = service.caller(req, project_id)
    if caller.is_admin and web.query_flag(req, "all_tenants"):
        rows = service.store.select("volumes")
    else:
        rows = service.store.select("volumes", "project_id = ?", (project_id,))
    for key in ("status", "name"):
        wanted = req.GET.get(key)
        if wanted:
            rows = [row for row in rows if row[key] == wanted]
    rows = page(rows, req)
    return web.json_response({"volumes": [render(service, req, row, detail) for row in rows]})


def page(rows: list[dict], req) -> list[dict]:
    """`marker` and `limit` of a listing."""
    marker = req.GET.get("marker")
    if marker:
        ids = [row["id"] for row in rows]
        if marker not in ids:
            raise web.bad_request(f"marker [{web.short(marker)}] not found")
        rows = rows[ids.index(marker) + 1:]
    limit = req.GET.get("limit")
    if limit is not None:
        if not limit.isdigit():
            raise web.bad_request("Invalid input received: limit must be a non-negative "
                                  "integer.")
        rows = rows[:int(limit)]
    return rows


def list_volumes(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id, detail=False)


def list_volumes_detail(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id, detail=True)


def show(service: VolumeService, req, project_id: str, volume_id: str):
    service.caller(req, project_id)
    row = service.find("volumes", volume_id, project_id)
    return web.json_response({"volume": render(service, req, row)})


def update(service: VolumeService, req, project_id: str, volume_id: str):
    service.caller(req, project_id)
    doc = web.json_body(req, "volume")
    web.check_keys(doc, {"name", "description", "display_name", "display_description",
                         "metadata"}, "volume")
    changes = {}
    for key, alias in (("name", "display_name"), ("description", "display_description")):
        if key in doc or alias in doc:
            changes[key] = web.text(doc, key) if key in doc else web.text(doc, alias)
    if "metadata" in doc:
        changes["metadata"] = web.metadata(doc) or {}
    service.find("volumes", volume_id, project_id)
    if changes:
        with service.store.write() as tx:
            tx.update("volumes", volume_id, {**changes, "updated_at": web.now()})
    row = service.find("volumes", volume_id, project_id)
    return web.json_response({"volume": render(service, req, row)})


def delete(service: VolumeService, req, project_id: str, volume_id: str):
    service.caller(req, project_id)
    service.find("volumes", volume_id, project_id)
    with service.store.write() as tx:
        row = tx.get("volumes", volume_id)
        try:
            states.require("delete", row["status"])
        except states.InvalidState as exc:
            raise conflict(exc) from None
        if tx.row("SELECT id FROM attachments WHERE volume_id = ?", (volume_id,)):
            raise HTTPError(409, "Invalid volume: Volume status must be available or error "
                                 "and must not be attached.")
        if tx.row("SELECT id FROM snapshots WHERE volume_id = ?", (volume_id,)):
            raise HTTPError(409, "Invalid volume: Volume still has dependent snapshots.")
        tx.update("volumes", volume_id, {"status": states.DELETING, "updated_at": web.now()})
    service.files.remove(service.files.volume_path(volume_id))
    with service.store.write() as tx:
        tx.delete("volumes", volume_id)
    return web.empty_response(202)


def action(service: VolumeService, req, project_id: str, volume_id: str):
    caller = service.caller(req, project_id)
    doc = web.json_document(req)
    if len(doc) != 1:
        raise web.bad_request("Invalid input received: exactly one action per request.")
    name, args = next(iter(doc.items()))
    row = service.find("volumes", volume_id, project_id)
    if name == "os-extend":
        return _extend(service, row, args)
    if name == "os-set_bootable":
        if not isinstance(args, dict) or "bootable" not in args:
            raise web.bad_request("Invalid input received: os-set_bootable needs 'bootable'.")
        with service.store.write() as tx:
            tx.update("volumes", volume_id, {"bootable": int(web.boolean(args, "bootable")),
                                             "updated_at": web.now()})
        return web.empty_response(200)
    if name == "os-reset_status":
        if not caller.is_admin:
            raise HTTPError(403, "Policy doesn't allow volume:reset_status to be performed.")
        status = args.get("status") if isinstance(args, dict) else None
        if status not in states.VOLUME_STATUSES:
            raise web.bad_request(f"Invalid input received: status '{web.short(status)}' is "
                                  "not a volume status.")
        set_status(service, "volumes", volume_id, status)
        return web.empty_response(202)
    raise web.bad_request(f"Invalid input received: unknown action '{web.short(name)}'.")


def _extend(service: VolumeService, row: dict, args) -> object:
    new_size = args.get("new_size") if isinstance(args, dict) else None
    new_size = web.size_gb(new_size, "new_size", service.config.max_volume_gb)
    if new_size <= row["size"]:
        raise web.bad_request("Invalid input received: New size for extend must be greater "
                              f"than current size. (current: {row['size']}, extended: "
                              f"{new_size}).")
    with service.store.write() as tx:
        current = tx.get("volumes", row["id"])
        try:
            states.require("extend", current["status"])
            quotas.check(tx.limits(row["project_id"], service.config.quotas),
                         tx.usage(row["project_id"]),
                         {"gigabytes": new_size - current["size"],
                          "per_volume_gigabytes": new_size})
        except states.InvalidState as exc:
            raise conflict(exc) from None
        except quotas.OverQuota as exc:
            raise over_quota(exc) from None
        tx.update("volumes", row["id"], {"status": states.EXTENDING, "updated_at": web.now()})
    try:
        service.files.extend(service.files.volume_path(row["id"]), new_size)
    except (DiskError, OSError) as exc:
        log.warning("volume %s could not be extended: %s", row["id"], exc)
        set_status(service, "volumes", row["id"], states.ERROR_EXTENDING)
        raise HTTPError(500, "The volume could not be extended.") from None
    set_status(service, "volumes", row["id"], states.AVAILABLE, size=new_size)
    return web.empty_response(202)
