"""`/v3/{project_id}/backups`: create, list, show, delete, and restore volume backups.

A backup reads the volume's file and stores it as objects in the object store
(`volume.backups`, Cinder's Swift driver's layout: chunks plus a metadata object, in the
project's own container), in a green thread: the backup is `creating` and the volume
`backing-up` meanwhile, then the volume goes back to what it was (an `in-use` volume needs
`force`). A restore writes a new volume (`size` of the backup, within quota) or an existing
`available` volume at least as large, `restoring-backup` until every chunk and the whole
volume's checksum matched, then renamed into place; a failed restore leaves the target's
old bytes (status `error_restoring`).
"""
from __future__ import annotations

import logging

from common.http_errors import HTTPError
from volume import backup_format, quotas, states, views, web
from volume.api_volumes import (
    base_url,
    conflict,
    insert_volume,
    over_quota,
    page,
    set_status,
)
from volume.backups import BackupError
from volume.service import VolumeService, new_id

log = logging.getLogger("brume.volume")


def create(service: VolumeService, req, project_id: str):
    caller = service.caller(req, project_id)
    doc = web.json_body(req, "backup")
    web.check_keys(doc, {"volume_id", "container", "name", "description", "incremental",
                         "force", "snapshot_id", "metadata", "availability_zone"}, "backup")
    volume_id = web.ident(doc, "volume_id")
    if volume_id is None:
        raise web.bad_request("Invalid input received: volume_id is required.")
    if web.boolean(doc, "incremental"):
        raise web.bad_request("Invalid input received: incremental backups are not "
                              "supported.")
    if doc.get("snapshot_id") is not None:
        raise web.bad_request("Invalid input received: backups of snapshots are not "
                              "supported.")
    force = web.boolean(doc, "force")
    name, description = web.text(doc, "name"), web.text(doc, "description")
    container = web.text(doc, "container")
    if container is not None and (not container or "/" in container):
        raise web.bad_request("Invalid input received: container must be a name without '/'.")
    service.find("volumes", volume_id, project_id)
    backup_id, now = new_id(), web.now()
    with service.store.write() as tx:
        volume = tx.get("volumes", volume_id)
        try:
            states.require("backup_force" if force else "backup", volume["status"])
            quotas.check(tx.limits(project_id, service.config.quotas), tx.usage(project_id),
                         {"backups": 1, "backup_gigabytes": volume["size"]})
        except states.InvalidState as exc:
            raise conflict(exc) from None
        except quotas.OverQuota as exc:
            raise over_quota(exc) from None
        row = {"id": backup_id, "project_id": project_id, "user_id": caller.user_id,
               "volume_id": volume_id, "name": name, "description": description,
               "size": volume["size"], "status": states.CREATING,
               "container": backup_format.container_name(
                   container or service.config.backup_container, project_id),
               "object_prefix": backup_format.object_prefix(volume_id, backup_id),
               "created_at": now, "updated_at": now}
        tx.insert("backups", row)
        tx.update("volumes", volume_id, {"status": states.BACKING_UP, "updated_at": now})
    service.run_job(run_backup, service, row, volume["status"])
    return web.json_response({"backup": views.backup(row, base_url(service, req), False)},
                             202)


def run_backup(service: VolumeService, row: dict, volume_status: str) -> None:
    try:
        count, digest = service.backups.write(
            row, service.files.volume_path(row["volume_id"]), row["size"], row["created_at"],
            pause=lambda: service.sleep(0))
    except BackupError as exc:
        log.warning("backup %s failed: %s", row["id"], exc)
        set_status(service, "backups", row["id"], states.ERROR, fail_reason=str(exc))
    else:
        set_status(service, "backups", row["id"], states.AVAILABLE, object_count=count,
                   sha256=digest)
    set_status(service, "volumes", row["volume_id"], volume_status, expect=states.BACKING_UP)


def _listing(service: VolumeService, req, project_id: str, detail: bool):
    caller = service.caller(req, project_id)
    if caller.is_admin and web.query_flag(req, "all_tenants"):
        rows = service.store.select("backups")
    else:
        rows = service.store.select("backups", "project_id = ?", (project_id,))
    for key in ("status", "volume_id", "name"):
        if req.GET.get(key):
            rows = [row for row in rows if row[key] == req.GET[key]]
    base = base_url(service, req)
    return web.json_response({"backups": [views.backup(row, base, detail)
                                          for row in page(rows, req)]})


def list_backups(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id, False)


def list_backups_detail(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id, True)


def show(service: VolumeService, req, project_id: str, backup_id: str):
    service.caller(req, project_id)
    return web.json_response({"backup": views.backup(
        service.find("backups", backup_id, project_id), base_url(service, req))})


def delete(service: VolumeService, req, project_id: str, backup_id: str):
    service.caller(req, project_id)
    service.find("backups", backup_id, project_id)
    with service.store.write() as tx:
        row = tx.get("backups", backup_id)
        try:
            states.require_backup("delete", row["status"])
        except states.InvalidState as exc:
            raise HTTPError(409, str(exc)) from None
        tx.update("backups", backup_id, {"status": states.DELETING, "updated_at": web.now()})
    service.run_job(remove_backup, service, row)
    return web.empty_response(202)


def remove_backup(service: VolumeService, row: dict) -> None:
    try:
        service.backups.delete(row)
    except Exception as exc:
        log.warning("backup %s: objects not deleted: %s", row["id"], exc)
        set_status(service, "backups", row["id"], states.ERROR,
                   fail_reason=f"delete failed: {exc}")
        return
    with service.store.write() as tx:
        tx.delete("backups", row["id"])


def restore(service: VolumeService, req, project_id: str, backup_id: str):
    caller = service.caller(req, project_id)
    doc = web.json_body(req, "restore")
    web.check_keys(doc, {"volume_id", "name"}, "restore")
    volume_id, name = web.ident(doc, "volume_id"), web.text(doc, "name")
    service.find("backups", backup_id, project_id)
    if volume_id is not None:
        service.find("volumes", volume_id, project_id)
    with service.store.write() as tx:
        backup = tx.get("backups", backup_id)
        try:
            states.require_backup("restore", backup["status"])
        except states.InvalidState as exc:
            raise HTTPError(409, str(exc)) from None
        if volume_id is None:
            try:
                volume = insert_volume(service, tx, caller, project_id,
                                       {"size": backup["size"], "name": name,
                                        "status": states.RESTORING})
            except quotas.OverQuota as exc:
                raise over_quota(exc) from None
        else:
            volume = tx.get("volumes", volume_id)
            if volume["status"] != states.AVAILABLE:
                raise HTTPError(409, f"Invalid volume: Volume to be restored to must be "
                                     f"available, but current status is {volume['status']}.")
            if volume["size"] < backup["size"]:
                raise web.bad_request(f"Invalid input received: volume size {volume['size']}"
                                      f"GB cannot be smaller than the backup size "
                                      f"{backup['size']}GB.")
            tx.update("volumes", volume_id, {"status": states.RESTORING,
                                             "updated_at": web.now()})
        tx.update("backups", backup_id, {"status": states.RESTORING,
                                         "restore_volume_id": volume["id"],
                                         "updated_at": web.now()})
    service.run_job(run_restore, service, backup, volume)
    return web.json_response({"restore": {"backup_id": backup_id, "volume_id": volume["id"],
                                          "volume_name": volume["name"]}}, 202)


def run_restore(service: VolumeService, backup: dict, volume: dict) -> None:
    path = service.files.volume_path(volume["id"])
    temp = service.files.new_restore_target(path, volume["size"])
    status = states.AVAILABLE
    try:
        service.backups.restore(backup, temp, pause=lambda: service.sleep(0))
        service.files.commit(temp, path)
    except (BackupError, OSError) as exc:
        log.warning("restore of backup %s into %s failed: %s", backup["id"], volume["id"],
                    exc)
        service.files.remove(temp)
        status = states.ERROR_RESTORING
    set_status(service, "volumes", volume["id"], status, expect=states.RESTORING)
    set_status(service, "backups", backup["id"], states.AVAILABLE, expect=states.RESTORING)
