"""Store rows rendered as Cinder v3's documents: volumes, snapshots, backups, attachments."""
from __future__ import annotations


def _links(base: str, project_id: str, kind: str, ident: str) -> list[dict]:
    return [{"rel": "self", "href": f"{base}/v3/{project_id}/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/{project_id}/{kind}/{ident}"}]


def volume_attachment(row: dict) -> dict:
    """One entry of a volume's `attachments` (attached only)."""
    return {"id": row["volume_id"], "attachment_id": row["id"],
            "volume_id": row["volume_id"], "server_id": row["instance_uuid"],
            "host_name": row["host_name"], "device": row["mountpoint"],
            "attached_at": row["attached_at"]}


def volume(row: dict, base: str, attachments: list[dict], detail: bool = True) -> dict:
    summary = {"id": row["id"], "name": row["name"],
               "links": _links(base, row["project_id"], "volumes", row["id"])}
    if not detail:
        return summary
    doc = {
        **summary,
        "status": row["status"], "size": row["size"],
        "availability_zone": row["availability_zone"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "description": row["description"],
        "volume_type": "__DEFAULT__", "snapshot_id": row["snapshot_id"],
        "source_volid": row["source_volid"], "metadata": row["metadata"],
        "bootable": "true" if row["bootable"] else "false", "encrypted": False,
        "multiattach": False, "replication_status": None, "consistencygroup_id": None,
        "group_id": None, "user_id": row["user_id"],
        "os-vol-tenant-attr:tenant_id": row["project_id"],
        "attachments": [volume_attachment(a) for a in attachments
                        if a["attach_status"] == "attached"],
    }
    if row["image_meta"]:
        doc["volume_image_metadata"] = row["image_meta"]
    return doc


def snapshot(row: dict, detail: bool = True) -> dict:
    doc = {"id": row["id"], "name": row["name"], "status": row["status"],
           "size": row["size"], "volume_id": row["volume_id"],
           "description": row["description"], "created_at": row["created_at"],
           "updated_at": row["updated_at"], "metadata": row["metadata"]}
    if detail:
        doc["os-extended-snapshot-attributes:project_id"] = row["project_id"]
        doc["os-extended-snapshot-attributes:progress"] = \
            "100%" if row["status"] == "available" else "0%"
    return doc


def backup(row: dict, base: str, detail: bool = True) -> dict:
    summary = {"id": row["id"], "name": row["name"],
               "links": _links(base, row["project_id"], "backups", row["id"])}
    if not detail:
        return summary
    return {**summary, "status": row["status"], "size": row["size"],
            "volume_id": row["volume_id"], "description": row["description"],
            "container": row["container"], "object_count": row["object_count"],
            "fail_reason": row["fail_reason"], "created_at": row["created_at"],
            "updated_at": row["updated_at"], "data_timestamp": row["created_at"],
            "availability_zone": None, "is_incremental": False, "has_dependent_backups": False,
            "snapshot_id": None, "os-backup-project-attr:project_id": row["project_id"]}


def attachment(row: dict, connection_info: dict | None = None) -> dict:
    return {"id": row["id"], "volume_id": row["volume_id"],
            "instance": row["instance_uuid"], "status": row["attach_status"],
            "attach_mode": "rw", "attached_at": row["attached_at"], "detached_at": None,
            "connection_info": connection_info or {}}
