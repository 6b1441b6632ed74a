"""`/v2.1/servers`: boot, list (filters, paging), show, delete, actions, diagnostics.

The day-2 actions (snapshots, shelve, rebuild, resize, migration, evacuation) are handled by
`compute.api.server_actions`; every accepted change is recorded as an instance action.
"""
from __future__ import annotations

import time
import urllib.parse

from common.http_client import HTTPClientError
from common.http_errors import HTTPError
from compute import boot_volumes, keypairs, states
from compute.api.flavors import get_visible_flavor
from compute.block_devices import local_root_image, parse_bdm
from compute.claims import insert_server_within_quota
from compute.http_json import json_response, parse_json, read_body
from compute.image_lookup import (
    check_image_fits,
    image_id_from_ref,
    image_meta_of,
    resolve_boot_images,
)
from compute.instance_actions import request_id_of
from compute.name_filter import NameFilter, PatternError
from compute.network_client import NetworkError
from compute.quotas import QuotaExceeded
from compute.repo import NotFound, new_server_id
from compute.requested_networks import parse_networks
from compute.server_volumes import release_all
from compute.service_auth import agent_target
from compute.service_http import call
from compute.validation import (
    check_config_drive,
    check_metadata,
    check_name,
    check_user_data,
)
from compute.views import host_status_of, server_view

MAX_LIMIT = 1000


def load_server(core, caller, server_id: str) -> dict:
    try:
        server = core.repo.get_server(server_id)
    except NotFound:
        raise HTTPError(404, f"Instance {server_id} could not be found.") from None
    if server["project_id"] != caller.project_id and not caller.is_admin:
        raise HTTPError(404, f"Instance {server_id} could not be found.")
    return server


def create(core, caller, request):
    body = parse_json(read_body(request))
    spec = body.get("server")
    if not isinstance(spec, dict):
        raise HTTPError(400, "Invalid input: 'server' is a required object.")
    name = check_name(spec.get("name"), "server name")
    metadata = check_metadata(spec.get("metadata"))
    for count_key in ("min_count", "max_count"):
        if spec.get(count_key) not in (None, 1, "1"):
            raise HTTPError(400, f"Invalid input: only one server per request ({count_key}).")
    flavor_ref = spec.get("flavorRef")
    if not isinstance(flavor_ref, str | int) or isinstance(flavor_ref, bool) or flavor_ref == "":
        raise HTTPError(400, "Invalid input: 'flavorRef' is required.")
    flavor_id = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = get_visible_flavor(core, caller, flavor_id)
    except NotFound:
        raise HTTPError(400, f"Flavor {flavor_id} could not be found.") from None
    zone = spec.get("availability_zone")
    if zone is not None:
        if not isinstance(zone, str) or not zone:
            raise HTTPError(400, "Invalid input: availability_zone must be a string.")
        known = {h["availability_zone"] for h in core.hosts.list_hosts()}
        if zone not in known:
            raise HTTPError(400, f"The requested availability zone is not available: {zone}")
    key_name, key_data = _keypair(core, caller, spec.get("key_name"))
    user_data = check_user_data(spec.get("user_data"))
    config_drive = check_config_drive(spec.get("config_drive"))
    choice = parse_networks(spec.get("networks"))
    token = request.headers.get("X-Auth-Token", "")
    boot = parse_bdm(spec.get("block_device_mapping_v2"))
    if boot is None:
        image_id = image_id_from_ref(spec.get("imageRef")
                                     or local_root_image(spec.get("block_device_mapping_v2")))
        image = core.fetch_image(image_id, token)
        check_image_fits(image, image_id, flavor)
        boot_images = resolve_boot_images(image, image_id,
                                          lambda ref: core.fetch_image(ref, token))
    else:  # the root disk is a volume: no image on the host (compute.boot_volumes)
        boot_volumes.check(core, token, caller.project_id, boot, flavor)
        image_id, image, boot_images = "", {}, {}
    nics = core.nics.plan(token, caller.project_id, choice)
    server_id = new_server_id()
    server = {
        "id": server_id,
        "name": name,
        "project_id": caller.project_id,
        "user_id": caller.user_id,
        "image_ref": image_id,
        "image_meta": image_meta_of(image),
        **boot_images,
        "flavor_id": flavor["id"],
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "availability_zone": zone,
        "metadata": metadata,
        "key_name": key_name,
        "key_data": key_data,
        "user_data": user_data,
        "config_drive": config_drive,
    }
    # Ports (and an existing boot volume) last: every check that can refuse the boot
    # without them has passed; anything refused from here on releases them again.
    server["network_info"] = core.nics.allocate(token, server_id, zone, nics) if nics else []
    server["block_devices"] = []
    try:
        if boot is not None and boot.source == "volume":
            server["block_devices"] = [boot_volumes.attach_existing(
                core, token, caller.project_id, server_id, boot)]
        insert_server_within_quota(core.db, server, core.quotas.defaults)
    except QuotaExceeded as exc:
        core.nics.release(token, server["network_info"], strict=False)
        release_all(core, token, server)
        raise HTTPError(403, str(exc)) from None
    except BaseException:
        core.nics.release(token, server["network_info"], strict=False)
        release_all(core, token, server)
        raise
    _record(core, caller, request, server["id"], "create")
    if boot is not None and boot.source == "image":
        boot_volumes.start(core, token, server["id"], boot, name)
    else:
        core.conductor.start_build(server["id"])
    created = core.repo.get_server(server["id"])
    view = server_view(created, core.base_url(request), caller.is_admin, detail=False)
    view["OS-DCF:diskConfig"] = "MANUAL"
    view["security_groups"] = [{"name": "default"}]
    return json_response(202, {"server": view}, headers={"Location": view["links"][0]["href"]})


def _keypair(core, caller, key_name) -> tuple[str | None, str | None]:
    """(name, public key) of the caller's keypair `key_name`; 400 when it has none such."""
    if key_name is None:
        return None, None
    if not isinstance(key_name, str) or not key_name:
        raise HTTPError(400, "Invalid input: key_name must be a string.")
    row = keypairs.get(core.db, caller.user_id, key_name)
    if row is None:
        raise HTTPError(400, "Invalid key_name provided.")
    return row["name"], row["public_key"]


def _int_param(request, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(400, f"Invalid input: {name} must be an integer.") from None
    if value < 0:
        raise HTTPError(400, f"Invalid input: {name} must be >= 0.")
    return value


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def _listing(core, caller, request, detail: bool):
    all_tenants = caller.is_admin and _truthy(request.GET.get("all_tenants"))
    include_deleted = caller.is_admin and _truthy(request.GET.get("deleted"))
    project = None if all_tenants else caller.project_id
    if caller.is_admin:
        project = request.GET.get("project_id") or request.GET.get("tenant_id") or project
    servers = core.repo.list_servers(project, include_deleted=include_deleted)
    name = request.GET.get("name")
    if name:
        try:
            pattern = NameFilter(name)
        except PatternError as exc:
            raise HTTPError(400, f"Invalid name filter: {exc}.") from None
        servers = [s for s in servers if pattern.matches(s["name"])]
    status = request.GET.get("status")
    if status:
        wanted = status.upper()
        if wanted not in states.STATUS_FILTERS:
            raise HTTPError(400, f"Invalid status value: {status}")
        servers = [s for s in servers
                   if states.status_of(s["vm_state"], s["task_state"]) == wanted]
    if caller.is_admin and request.GET.get("host"):
        servers = [s for s in servers if s["host"] == request.GET["host"]]
    marker = request.GET.get("marker")
    if marker:
        ids = [s["id"] for s in servers]
        if marker not in ids:
            raise HTTPError(400, f"marker [{marker}] not found")
        servers = servers[ids.index(marker) + 1:]
    limit = _int_param(request, "limit")
    limit = MAX_LIMIT if limit is None else min(limit, MAX_LIMIT)
    page = servers[:limit]
    if detail:
        page = refreshed_page(core, request, page)
    base = core.base_url(request)
    hosts = host_statuses(core) if detail else {}
    body = {"servers": [server_view(s, base, caller.is_admin, detail,
                                    host_status=hosts.get(s["host"], "")) for s in page]}
    if page and len(servers) > limit:
        query = {k: v for k, v in request.GET.items() if k != "marker"}
        query["marker"] = page[-1]["id"]
        suffix = "/detail" if detail else ""
        body["servers_links"] = [{
            "rel": "next",
            "href": f"{base}/v2.1/servers{suffix}?{urllib.parse.urlencode(query)}",
        }]
    return json_response(200, body)


def index(core, caller, request):
    return _listing(core, caller, request, detail=False)


def detail(core, caller, request):
    return _listing(core, caller, request, detail=True)


def refreshed(core, request, server: dict) -> dict:
    """The server with its NICs read again from the network service (floating IPs come and
    go there); the recorded ones when it cannot answer."""
    if not core.nics.enabled or not server["network_info"]:
        return server
    token = request.headers.get("X-Auth-Token", "")
    try:
        current = core.nics.refresh(token, server["id"], server["network_info"])
    except NetworkError:
        return server
    if current != server["network_info"]:
        core.repo.update_server(server["id"], network_info=current)
        server = {**server, "network_info": current}
    return server


def refreshed_page(core, request, servers: list[dict]) -> list[dict]:
    """`refreshed` for a page of a detailed listing, in a few calls for the whole page
    (clients such as the openstack CLI show a server found by name from the listing)."""
    known = {s["id"]: s["network_info"] for s in servers
             if s["network_info"] and not s.get("deleted")}
    if not core.nics.enabled or not known:
        return servers
    token = request.headers.get("X-Auth-Token", "")
    try:
        current = core.nics.refresh_many(token, known)
    except NetworkError:
        return servers
    page = []
    for server in servers:
        fresh = current.get(server["id"], server["network_info"])
        if fresh != server["network_info"]:
            core.repo.update_server(server["id"], network_info=fresh)
            server = {**server, "network_info": fresh}
        page.append(server)
    return page


def host_statuses(core) -> dict[str, str]:
    """{host name: Nova's host_status (UP, DOWN, MAINTENANCE)} of every registered host."""
    now, window = time.time(), core.conf["heartbeat_window"]
    return {host["name"]: host_status_of(host, now, window) for host in core.hosts.list_hosts()}


def _record(core, caller, request, server_id: str, action: str) -> None:
    core.conductor.actions.start(server_id, action, request_id_of(request.environ),
                                 caller.project_id, caller.user_id)


def show(core, caller, request, server_id):
    server = refreshed(core, request, load_server(core, caller, server_id))
    return json_response(200, {"server": server_view(
        server, core.base_url(request), caller.is_admin,
        host_status=host_statuses(core).get(server["host"], ""))})


def delete(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    if server["task_state"] != states.DELETING:
        _record(core, caller, request, server["id"], "delete")
        if server["network_info"]:
            core.nics.release(request.headers.get("X-Auth-Token", ""), server["network_info"])
        core.conductor.begin_delete(server)
        release_all(core, request.headers.get("X-Auth-Token", ""), server)
    return json_response(204)


def reachable_host(core, server: dict) -> dict:
    host = core.hosts.get_host(server["host"]) if server["host"] else None
    window = core.conf["heartbeat_window"]
    if host is None or time.time() - host["last_heartbeat"] > window:
        raise HTTPError(409, "Cannot reach the compute host of this server right now.")
    return host


def _conflict(server: dict, action: str):
    status = states.status_of(server["vm_state"], server["task_state"])
    task = server["task_state"]
    detail = f"task_state {task}" if task else f"vm_state {server['vm_state']}"
    raise HTTPError(409, f"Cannot '{action}' instance {server['id']} while it is in {detail}"
                    f" (status {status}).")


def action(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    body = parse_json(read_body(request))
    if len(body) != 1:
        raise HTTPError(400, "Invalid input: exactly one action per request.")
    name, args = next(iter(body.items()))
    from compute.api import server_actions  # day-2 actions; that module imports this one

    if name in server_actions.HANDLERS:
        return server_actions.HANDLERS[name](core, caller, request, server, args)
    if name == "os-start":
        return _power(core, caller, request, server, "start", "start")
    if name == "os-stop":
        return _power(core, caller, request, server, "stop", "stop")
    if name == "reboot":
        kind = (args or {}).get("type") if isinstance(args, dict) else None
        if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
            raise HTTPError(400, "Invalid input: reboot type must be SOFT or HARD.")
        return _power(core, caller, request, server,
                      "reboot_hard" if kind.upper() == "HARD" else "reboot", "reboot")
    if name == "os-getConsoleOutput":
        return _console(core, server, args)
    if name in ("os-getSerialConsole", "os-getVNCConsole"):
        from compute.api import consoles  # it builds on this module

        return consoles.action(core, caller, request, server, name, args)
    raise HTTPError(400, f"There is no such action: {name}")


def _power(core, caller, request, server: dict, action_name: str, label: str):
    if server["task_state"] is not None:
        _conflict(server, label)
    reachable_host(core, server)
    _record(core, caller, request, server["id"], label)
    if core.conductor.begin_action(server, action_name) is None:
        core.conductor.actions.finish(server["id"], label, False, "state changed")
        _conflict(core.repo.get_server(server["id"]), label)
    return json_response(202)


def _console(core, server: dict, args):
    if not isinstance(args, dict):
        args = {}
    length = args.get("length")
    if isinstance(length, str) and length.lstrip("-").isdigit():
        length = int(length)
    if length is not None and (not isinstance(length, int) or isinstance(length, bool)
                               or length < -1):
        raise HTTPError(400, "Invalid input: length must be an integer.")
    if length == -1:
        length = None
    if server["vm_state"] not in (states.ACTIVE, states.STOPPED, states.ERROR,
                                  states.RESIZED) or not server["host"]:
        _conflict(server, "os-getConsoleOutput")
    host = reachable_host(core, server)
    query = "" if length is None else f"?length={length}"
    try:
        answer = call(host["agent_url"], "GET", f"/v1/instances/{server['id']}/console{query}",
                      core.conf["service_secret"], timeout=core.conf["agent_timeout"],
                      target=agent_target(host["name"]))
    except HTTPClientError as exc:
        if exc.status is None:
            raise HTTPError(409, "Cannot reach the compute host of this server.") from None
        if exc.status == 404:
            raise HTTPError(409, "The server has no console on its host.") from None
        raise HTTPError(500, f"Console request failed: {exc.detail}") from None
    return json_response(200, {"output": answer.get("output", "")})


def diagnostics(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    if not server["host"] or server["vm_state"] not in (states.ACTIVE, states.STOPPED):
        _conflict(server, "diagnostics")
    host = reachable_host(core, server)
    try:
        answer = call(host["agent_url"], "GET", f"/v1/instances/{server['id']}/diagnostics",
                      core.conf["service_secret"], timeout=core.conf["agent_timeout"],
                      target=agent_target(host["name"]))
    except HTTPClientError as exc:
        if exc.status is None:
            raise HTTPError(409, "Cannot reach the compute host of this server.") from None
        raise HTTPError(409 if exc.status == 404 else 500,
                        f"Diagnostics unavailable: {exc.detail}") from None
    return json_response(200, answer)
