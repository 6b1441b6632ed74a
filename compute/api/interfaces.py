"""`/v2.1/servers/{id}/os-interface`: list, show, attach and detach a server's ports.

Attach makes (or claims) the port with the caller's token, as at boot
(`compute.nic_allocation`), then asks the server's agent to plug it (it binds the port,
updates its node's datapath and attaches the NIC to the domain, live if it runs); if the
agent cannot, the port is released again and nothing changed. Detach unplugs on the agent
first, then deletes the port (or releases one the caller gave). Both need the server ACTIVE
or SHUTOFF with no task running (409 otherwise).
"""
from __future__ import annotations

from common.http_client import HTTPClientError
from common.http_errors import HTTPError
from compute import states
from compute.api.servers import load_server, reachable_host, refreshed
from compute.http_json import json_response, parse_json, read_body
from compute.network_info import interface_attachment
from compute.requested_networks import NicRequest, parse_networks
from compute.service_auth import agent_target
from compute.service_http import call


def _ready(server: dict, action: str) -> None:
    if server["vm_state"] not in (states.ACTIVE, states.STOPPED) or server["task_state"]:
        raise HTTPError(409, f"Cannot '{action}' instance {server['id']} while it is in "
                        f"vm_state {server['vm_state']}"
                        + (f", task_state {server['task_state']}" if server["task_state"]
                           else "") + ".")


def _agent(core, server: dict, path: str, nic: dict) -> None:
    host = reachable_host(core, server)
    try:
        call(host["agent_url"], "POST", f"/v1/instances/{server['id']}{path}",
             core.conf["service_secret"], {"nic": nic}, timeout=core.conf["agent_timeout"],
             target=agent_target(host["name"]))
    except HTTPClientError as exc:
        if exc.status is None:
            raise HTTPError(409, "Cannot reach the compute host of this server.") from None
        raise HTTPError(409 if exc.status == 404 else 500,
                        f"The compute host could not change the interface: {exc.detail}"
                        ) from None


def index(core, caller, request, server_id):
    server = refreshed(core, request, load_server(core, caller, server_id))
    return json_response(200, {"interfaceAttachments": [
        interface_attachment(nic) for nic in server["network_info"]]})


def show(core, caller, request, server_id, port_id):
    server = refreshed(core, request, load_server(core, caller, server_id))
    for nic in server["network_info"]:
        if nic["port_id"] == port_id:
            return json_response(200, {"interfaceAttachment": interface_attachment(nic)})
    raise HTTPError(404, f"Port {port_id} is not attached to instance {server_id}.")


def _request(spec) -> NicRequest:
    if not isinstance(spec, dict):
        raise HTTPError(400, "Invalid input: 'interfaceAttachment' is a required object.")
    unknown = set(spec) - {"port_id", "net_id", "fixed_ips", "tag"}
    if unknown:
        raise HTTPError(400, f"Invalid input: unknown attribute(s) "
                        f"{', '.join(sorted(map(str, unknown)))}.")
    item: dict = {}
    if spec.get("port_id") is not None:
        item["port"] = spec["port_id"]
    if spec.get("net_id") is not None:
        item["uuid"] = spec["net_id"]
    fixed = spec.get("fixed_ips")
    if fixed is not None:
        if not isinstance(fixed, list) or len(fixed) != 1 or not isinstance(fixed[0], dict) \
                or set(fixed[0]) != {"ip_address"}:
            raise HTTPError(400, "Invalid input: fixed_ips must be one [{\"ip_address\"}].")
        item["fixed_ip"] = fixed[0]["ip_address"]
    if "port" in item and "uuid" in item:
        raise HTTPError(400, "Invalid input: give port_id or net_id, not both.")
    if not item or set(item) == {"fixed_ip"}:
        raise HTTPError(400, "Invalid input: port_id or net_id is required.")
    return parse_networks([item])[0]


def attach(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    nic_request = _request(parse_json(read_body(request)).get("interfaceAttachment"))
    if not core.nics.enabled:
        raise HTTPError(400, "Networking is not available in this cloud.")
    _ready(server, "attach_interface")
    reachable_host(core, server)
    token = request.headers.get("X-Auth-Token", "")
    [nic] = core.nics.allocate(token, server_id, server["availability_zone"], (nic_request,))
    try:
        _agent(core, server, "/interfaces", nic)
    except BaseException:
        core.nics.release(token, [nic], strict=False)
        raise
    current = core.repo.get_server(server_id)
    core.repo.update_server(server_id, network_info=[*current["network_info"], nic])
    return json_response(200, {"interfaceAttachment": interface_attachment(nic)})


def detach(core, caller, request, server_id, port_id):
    server = load_server(core, caller, server_id)
    nic = next((n for n in server["network_info"] if n["port_id"] == port_id), None)
    if nic is None:
        raise HTTPError(404, f"Port {port_id} is not attached to instance {server_id}.")
    _ready(server, "detach_interface")
    _agent(core, server, "/interfaces/detach", nic)
    core.nics.release(request.headers.get("X-Auth-Token", ""), [nic])
    current = core.repo.get_server(server_id)
    core.repo.update_server(server_id, network_info=[
        n for n in current["network_info"] if n["port_id"] != port_id])
    return json_response(202)
