"""`/v3/{project_id}/snapshots`: create, list, show, update, delete volume snapshots.

A snapshot is a sparse copy of the volume's file (`volume.disks`), made in a green thread
(`creating` → `available`); an `in-use` volume needs `force` (its guest may be writing: the
copy is crash-consistent at best). Snapshots count in the `snapshots` and `gigabytes`
quotas; a volume with snapshots cannot be deleted.
"""
from __future__ import annotations

import logging

from common.http_errors import HTTPError
from volume import quotas, states, views, web
from volume.api_volumes import conflict, over_quota, page, set_status
from volume.disks import DiskError
from volume.service import VolumeService, new_id

log = logging.getLogger("brume.volume")


def create(service: VolumeService, req, project_id: str):
    caller = service.caller(req, project_id)
    doc = web.json_body(req, "snapshot")
    web.check_keys(doc, {"volume_id", "name", "description", "display_name",
                         "display_description", "force", "metadata"}, "snapshot")
    volume_id = web.ident(doc, "volume_id")
    if volume_id is None:
        raise web.bad_request("Invalid input received: volume_id is required.")
    force = web.boolean(doc, "force")
    name = web.text(doc, "name") or web.text(doc, "display_name")
    description = web.text(doc, "description") or web.text(doc, "display_description")
    metadata = web.metadata(doc) or {}
    service.find("volumes", volume_id, project_id)
    now = web.now()
    with service.store.write() as tx:
        volume = tx.get("volumes", volume_id)
        try:
            states.require("snapshot_force" if force else "snapshot", volume["status"])
            quotas.check(tx.limits(project_id, service.config.quotas), tx.usage(project_id),
                         {"snapshots": 1, "gigabytes": volume["size"]})
        except states.InvalidState as exc:
            raise conflict(exc) from None
        except quotas.OverQuota as exc:
            raise over_quota(exc) from None
        row = {"id": new_id(), "project_id": project_id, "user_id": caller.user_id,
               "volume_id": volume_id, "name": name, "description": description,
               "size": volume["size"], "status": states.CREATING, "metadata": metadata,
               "created_at": now, "updated_at": now}
        tx.insert("snapshots", row)
    service.run_job(make_snapshot, service, row)
    return web.json_response({"snapshot": views.snapshot(row)}, 202)


def make_snapshot(service: VolumeService, row: dict) -> None:
    status = states.AVAILABLE
    try:
        service.files.copy(service.files.volume_path(row["volume_id"]),
                           service.files.snapshot_path(row["id"]))
    except (DiskError, OSError) as exc:
        log.warning("snapshot %s could not be made: %s", row["id"], exc)
        status = states.ERROR
    set_status(service, "snapshots", row["id"], status, expect=states.CREATING)


def _listing(service: VolumeService, req, project_id: str, detail: bool):
    caller = service.caller(req, project_id)
    if caller.is_admin and web.query_flag(req, "all_tenants"):
        rows = service.store.select("snapshots")
    else:
        rows = service.store.select("snapshots", "project_id = ?", (project_id,))
    for key in ("status", "volume_id", "name"):
        if req.GET.get(key):
            rows = [row for row in rows if row[key] == req.GET[key]]
    return web.json_response({"snapshots": [views.snapshot(row, detail)
                                            for row in page(rows, req)]})


def list_snapshots(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id, False)


def list_snapshots_detail(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id, True)


def show(service: VolumeService, req, project_id: str, snapshot_id: str):
    service.caller(req, project_id)
    return web.json_response({"snapshot": views.snapshot(
        service.find("snapshots", snapshot_id, project_id))})


def update(service: VolumeService, req, project_id: str, snapshot_id: str):
    service.caller(req, project_id)
    doc = web.json_body(req, "snapshot")
    web.check_keys(doc, {"name", "description", "display_name", "display_description"},
                   "snapshot")
    changes = {}
    for key, alias in (("name", "display_name"), ("description", "display_description")):
        if key in doc or alias in doc:
            changes[key] = web.text(doc, key) if key in doc else web.text(doc, alias)
    service.find("snapshots", snapshot_id, project_id)
    if changes:
        with service.store.write() as tx:
            tx.update("snapshots", snapshot_id, {**changes, "updated_at": web.now()})
    return web.json_response({"snapshot": views.snapshot(
        service.find("snapshots", snapshot_id, project_id))})


def delete(service: VolumeService, req, project_id: str, snapshot_id: str):
    service.caller(req, project_id)
    service.find("snapshots", snapshot_id, project_id)
    with service.store.write() as tx:
        row = tx.get("snapshots", snapshot_id)
        try:
            states.require_snapshot_deletable(row["status"])
        except states.InvalidState as exc:
            raise HTTPError(409, str(exc)) from None
        tx.update("snapshots", snapshot_id, {"status": states.DELETING})
    service.files.remove(service.files.snapshot_path(snapshot_id))
    with service.store.write() as tx:
        tx.delete("snapshots", snapshot_id)
    return web.empty_response(202)
