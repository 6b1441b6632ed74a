"""`/v3/{project_id}/attachments`: Cinder's attachment API (3.27+), as the compute API uses it.

`POST` reserves an `available` volume for a server (`reserved`; at most one attachment
per volume, so a second attach is a 409); with a `connector` (the hypervisor's host name
and the device it will use) it also exports the volume (`volume.exports`, a port taken in
the same transaction) and answers the `connection_info` (`attaching`). `PUT` gives the
connector of a reserved attachment later. The `os-complete` action marks it attached: the
volume is `in-use` and lists it in `attachments`. `DELETE` stops the export (the file is
flushed and closed), removes the attachment and makes the volume `available` again.
"""
from __future__ import annotations

import logging

from common.http_errors import HTTPError
from volume import states, views, web
from volume.exports import ExportError, connection_info
from volume.service import VolumeService, new_id

log = logging.getLogger("brume.volume")

RESERVED, ATTACHING, ATTACHED = "reserved", "attaching", "attached"


def _connector(doc: dict) -> dict | None:
    value = doc.get("connector")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > 32 or not all(
            isinstance(k, str) and isinstance(v, str | int | bool | None) for k, v in
            value.items()):
        raise web.bad_request("Invalid input received: connector must be an object of "
                              "simple values.")
    for key in ("host", "mountpoint"):
        if value.get(key) is not None:
            web.text(value, key)
    return value


def _free_export_port(service: VolumeService, tx) -> int | None:
    """The lowest export port no attachment holds and nothing else listens on (another
    cluster's volume node, or any program, may hold ports of the range)."""
    busy: set[int] = set()
    while True:
        port = tx.free_port(service.config.export_port_min, service.config.export_port_max,
                            busy)
        if port is None or not service.exports.port_busy(port):
            return port
        busy.add(port)


def _export(service: VolumeService, attachment_id: str, connector: dict) -> dict:
    """Take a port, start the export, record the connector; the attachment's info."""
    with service.store.write() as tx:
        row = tx.get("attachments", attachment_id)
        port = row["export_port"] or _free_export_port(service, tx)
        if port is None:
            raise HTTPError(503, "No free export port on the volume node.")
        tx.update("attachments", attachment_id, {
            "export_port": port, "connector": connector, "attach_status": ATTACHING,
            "host_name": connector.get("host"), "mountpoint": connector.get("mountpoint")})
        tx.update("volumes", row["volume_id"], {"status": states.ATTACHING,
                                                "updated_at": web.now()})
    try:
        service.exports.start(attachment_id, row["volume_id"],
                              service.files.volume_path(row["volume_id"]), port)
    except ExportError as exc:
        log.warning("cannot export volume %s: %s", row["volume_id"], exc)
        with service.store.write() as tx:
            tx.update("attachments", attachment_id, {"export_port": None,
                                                     "attach_status": RESERVED})
            tx.update("volumes", row["volume_id"], {"status": states.RESERVED})
        raise HTTPError(503, f"The volume could not be exported: {exc}") from None
    return connection_info(service.config.export_host, port, row["volume_id"])


def create(service: VolumeService, req, project_id: str):
    service.caller(req, project_id)
    doc = web.json_body(req, "attachment")
    web.check_keys(doc, {"volume_uuid", "volume_id", "instance_uuid", "connector", "mode"},
                   "attachment")
    volume_id = web.ident(doc, "volume_uuid") or web.ident(doc, "volume_id")
    instance = web.ident(doc, "instance_uuid")
    if volume_id is None or instance is None:
        raise web.bad_request("Invalid input received: volume_uuid and instance_uuid are "
                              "required.")
    if doc.get("mode", "rw") != "rw":
        raise web.bad_request("Invalid input received: only mode 'rw' is supported.")
    connector = _connector(doc)
    service.find("volumes", volume_id, project_id)
    attachment_id = new_id()
    with service.store.write() as tx:
        volume = tx.get("volumes", volume_id)
        try:
            states.require("attach", volume["status"])
        except states.InvalidState as exc:
            raise HTTPError(409, str(exc)) from None
        if tx.row("SELECT id FROM attachments WHERE volume_id = ?", (volume_id,)):
            raise HTTPError(409, f"Invalid volume: volume {volume_id} is already attached.")
        row = {"id": attachment_id, "volume_id": volume_id, "project_id": project_id,
               "instance_uuid": instance, "attach_status": RESERVED,
               "created_at": web.now()}
        tx.insert("attachments", row)
        tx.update("volumes", volume_id, {"status": states.RESERVED, "updated_at": web.now()})
    info = None
    if connector is not None:
        try:
            info = _export(service, attachment_id, connector)
        except HTTPError:
            _remove(service, attachment_id)
            raise
    row = service.store.get("attachments", attachment_id)
    return web.json_response({"attachment": views.attachment(row, info)})


def update(service: VolumeService, req, project_id: str, attachment_id: str):
    service.caller(req, project_id)
    doc = web.json_body(req, "attachment")
    web.check_keys(doc, {"connector"}, "attachment")
    connector = _connector(doc)
    if connector is None:
        raise web.bad_request("Invalid input received: connector is required.")
    row = service.find("attachments", attachment_id, project_id)
    if row["attach_status"] == ATTACHED:
        raise HTTPError(409, "The attachment is complete; its connector cannot change.")
    info = _export(service, attachment_id, connector)
    row = service.store.get("attachments", attachment_id)
    return web.json_response({"attachment": views.attachment(row, info)})


def action(service: VolumeService, req, project_id: str, attachment_id: str):
    service.caller(req, project_id)
    doc = web.json_document(req)
    if set(doc) != {"os-complete"}:
        raise web.bad_request("Invalid input received: the only attachment action is "
                              "os-complete.")
    row = service.find("attachments", attachment_id, project_id)
    if row["export_port"] is None:
        raise HTTPError(409, "The attachment has no connector yet.")
    with service.store.write() as tx:
        tx.update("attachments", attachment_id, {"attach_status": ATTACHED,
                                                 "attached_at": web.now()})
        tx.update("volumes", row["volume_id"], {"status": states.IN_USE,
                                                "updated_at": web.now()})
    return web.empty_response(204)


def _remove(service: VolumeService, attachment_id: str) -> None:
    row = service.store.get("attachments", attachment_id)
    if row is None:
        return
    service.exports.stop(attachment_id)
    with service.store.write() as tx:
        tx.delete("attachments", attachment_id)
        left = tx.row("SELECT count(*) AS n FROM attachments WHERE volume_id = ?",
                      (row["volume_id"],))["n"]
        tx.update("volumes", row["volume_id"], {"status": states.after_detach(left),
                                                "updated_at": web.now()})


def delete(service: VolumeService, req, project_id: str, attachment_id: str):
    service.caller(req, project_id)
    service.find("attachments", attachment_id, project_id)
    _remove(service, attachment_id)
    return web.json_response({"attachments": []})


def _listing(service: VolumeService, req, project_id: str):
    service.caller(req, project_id)
    rows = service.store.select("attachments", "project_id = ?", (project_id,))
    for key, column in (("instance_id", "instance_uuid"), ("volume_id", "volume_id")):
        if req.GET.get(key):
            rows = [row for row in rows if row[column] == req.GET[key]]
    return web.json_response({"attachments": [views.attachment(row) for row in rows]})


def list_attachments(service: VolumeService, req, project_id: str):
    return _listing(service, req, project_id)


def show(service: VolumeService, req, project_id: str, attachment_id: str):
    service.caller(req, project_id)
    row = service.find("attachments", attachment_id, project_id)
    info = None
    if row["export_port"] is not None:
        info = connection_info(service.config.export_host, row["export_port"],
                               row["volume_id"])
    return web.json_response({"attachment": views.attachment(row, info)})
