"""`/v3/{project_id}/os-quota-sets/{target}` (show, `?usage=true`, defaults, admin update
and reset) and `/v3/{project_id}/limits` (the caller's absolute limits and usage)."""
from __future__ import annotations

from common.http_errors import HTTPError
from volume import quotas, web
from volume.service import VolumeService


def _quota_set(target: str, limits: dict, usage: dict | None = None) -> dict:
    doc: dict = {"id": target, "groups": -1}
    for resource in quotas.RESOURCES:
        limit = limits.get(resource, -1)
        if usage is None:
            doc[resource] = limit
        else:
            doc[resource] = {"limit": limit, "in_use": usage.get(resource, 0),
                             "reserved": 0, "allocated": 0}
    return doc


def _may_read(caller, target: str) -> None:
    if target != caller.project_id and not caller.is_admin:
        raise HTTPError(403, "Policy doesn't allow reading another project's quotas.")


def show(service: VolumeService, req, project_id: str, target: str):
    caller = service.caller(req, project_id)
    _may_read(caller, target)
    usage = service.store.usage(target) if web.query_flag(req, "usage") else None
    return web.json_response({"quota_set": _quota_set(target, service.limits(target), usage)})


def defaults(service: VolumeService, req, project_id: str, target: str):
    service.caller(req, project_id)
    return web.json_response({"quota_set": _quota_set(target, service.config.quotas)})


def update(service: VolumeService, req, project_id: str, target: str):
    caller = service.caller(req, project_id)
    if not caller.is_admin:
        raise HTTPError(403, "Policy doesn't allow volume_extension:quotas:update to be "
                             "performed.")
    doc = web.json_body(req, "quota_set")
    try:
        limits = quotas.parse_update(doc)
    except ValueError as exc:
        raise web.bad_request(f"Invalid input received: {exc}") from None
    with service.store.write() as tx:
        tx.set_limits(target, limits)
    return web.json_response({"quota_set": _quota_set(target, service.limits(target))})


def reset(service: VolumeService, req, project_id: str, target: str):
    caller = service.caller(req, project_id)
    if not caller.is_admin:
        raise HTTPError(403, "Policy doesn't allow volume_extension:quotas:delete to be "
                             "performed.")
    with service.store.write() as tx:
        tx.clear_limits(target)
    return web.empty_response(200)


def limits(service: VolumeService, req, project_id: str):
    service.caller(req, project_id)
    limit, usage = service.limits(project_id), service.store.usage(project_id)
    return web.json_response({"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": limit["volumes"], "maxTotalSnapshots": limit["snapshots"],
        "maxTotalVolumeGigabytes": limit["gigabytes"], "maxTotalBackups": limit["backups"],
        "maxTotalBackupGigabytes": limit["backup_gigabytes"],
        "totalVolumesUsed": usage["volumes"], "totalSnapshotsUsed": usage["snapshots"],
        "totalGigabytesUsed": usage["gigabytes"], "totalBackupsUsed": usage["backups"],
        "totalBackupGigabytesUsed": usage["backup_gigabytes"]}}})
