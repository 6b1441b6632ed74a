"""`/v2.1/servers/{id}/os-volume_attachments`: list, show, attach and detach a server's
volumes.

Attach asks the volume service, with the caller's token, for an attachment of the volume to
this server with a connector (it must be `available`: one in use is a 409 there and here),
which exports it and answers the `connection_info`; then the server's agent hot-plugs the
disk (live if the guest runs, and in its definition); then the attachment is completed (the
volume is `in-use`). If the agent cannot, the attachment is deleted again and nothing
changed. Detach unplugs on the agent first, then deletes the attachment (the volume is
`available`). Both need the server ACTIVE or SHUTOFF with no task running (409 otherwise);
the boot volume cannot be detached (400). The server row records its volumes
(`compute.block_devices`).
"""
from __future__ import annotations

import logging

from common.http_client import HTTPClientError
from common.http_errors import HTTPError
from compute import block_devices, states
from compute.api.servers import load_server, reachable_host
from compute.http_json import json_response, parse_json, read_body
from compute.server_volumes import volume_error
from compute.service_auth import agent_target
from compute.service_http import call
from compute.volume_client import VolumeError

LOG = logging.getLogger("brume.compute.volumes")


def _volumes(core):
    if core.volumes is None:
        raise HTTPError(400, "Volumes are not available in this cloud.")
    return core.volumes


def _ready(server: dict, action: str) -> None:
    if server["vm_state"] not in (states.ACTIVE, states.STOPPED) or server["task_state"]:
        raise HTTPError(409, f"Cannot '{action}' instance {server['id']} while it is in "
                        f"vm_state {server['vm_state']}"
                        + (f", task_state {server['task_state']}" if server["task_state"]
                           else "") + ".")


def _agent(core, server: dict, path: str, item: dict) -> None:
    host = reachable_host(core, server)
    try:
        call(host["agent_url"], "POST", f"/v1/instances/{server['id']}{path}",
             core.conf["service_secret"], {"volume": item}, timeout=core.conf["agent_timeout"],
             target=agent_target(host["name"]))
    except HTTPClientError as exc:
        if exc.status is None:
            raise HTTPError(409, "Cannot reach the compute host of this server.") from None
        raise HTTPError(409 if exc.status == 404 else 502,
                        f"The compute host could not change the volume: {exc.detail}"
                        ) from None


def index(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    return json_response(200, {"volumeAttachments": [
        block_devices.attachment_view(server_id, item) for item in server["block_devices"]]})


def show(core, caller, request, server_id, volume_id):
    server = load_server(core, caller, server_id)
    for item in server["block_devices"]:
        if item["volume_id"] == volume_id:
            return json_response(200, {"volumeAttachment": block_devices.attachment_view(
                server_id, item)})
    raise HTTPError(404, f"Volume {volume_id} is not attached to instance {server_id}.")


def attach(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    spec = parse_json(read_body(request)).get("volumeAttachment")
    if not isinstance(spec, dict) or not isinstance(spec.get("volumeId"), str) \
            or not block_devices.UUID_RE.match(spec["volumeId"]):
        raise HTTPError(400, "Invalid input: volumeAttachment.volumeId must be a volume id.")
    unknown = set(spec) - {"volumeId", "device", "tag", "delete_on_termination"}
    if unknown:
        raise HTTPError(400, f"Invalid input: unknown attribute(s) "
                        f"{', '.join(sorted(map(str, unknown)))}.")
    volumes = _volumes(core)
    volume_id = spec["volumeId"]
    if any(item["volume_id"] == volume_id for item in server["block_devices"]):
        raise HTTPError(409, f"Volume {volume_id} is already attached to this server.")
    _ready(server, "attach_volume")
    reachable_host(core, server)
    device = block_devices.next_device(server["block_devices"])
    token, project = request.headers.get("X-Auth-Token", ""), server["project_id"]
    try:
        attachment = volumes.attach(token, project, volume_id, server_id,
                                    {"host": server["host"], "mountpoint": f"/dev/{device}"})
    except VolumeError as exc:
        raise volume_error(exc) from None
    item = block_devices.record(attachment, volume_id, device,
                                delete_on_termination=spec.get("delete_on_termination") is True)
    try:
        _agent(core, server, "/volumes", item)
        volumes.complete(token, project, attachment["id"])
    except BaseException as exc:
        try:
            volumes.detach(token, project, attachment["id"])
        except VolumeError as undo:
            LOG.warning("server %s: attachment %s left behind: %s", server_id,
                        attachment["id"], undo)
        if isinstance(exc, VolumeError):
            raise volume_error(exc) from None
        raise
    current = core.repo.get_server(server_id)
    core.repo.update_server(server_id, block_devices=[*current["block_devices"], item])
    return json_response(200, {"volumeAttachment": block_devices.attachment_view(
        server_id, item)})


def detach(core, caller, request, server_id, volume_id):
    server = load_server(core, caller, server_id)
    item = next((i for i in server["block_devices"] if i["volume_id"] == volume_id), None)
    if item is None:
        raise HTTPError(404, f"Volume {volume_id} is not attached to instance {server_id}.")
    if item.get("boot_index") == 0:
        raise HTTPError(400, "Can't detach root device volume.")
    _ready(server, "detach_volume")
    _agent(core, server, "/volumes/detach", item)
    try:
        _volumes(core).detach(request.headers.get("X-Auth-Token", ""), server["project_id"],
                              item["attachment_id"])
    except VolumeError as exc:
        raise volume_error(exc) from None
    current = core.repo.get_server(server_id)
    core.repo.update_server(server_id, block_devices=[
        i for i in current["block_devices"] if i["volume_id"] != volume_id])
    return json_response(202)
