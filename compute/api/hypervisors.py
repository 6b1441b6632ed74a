"""`/v2.1/os-hypervisors` and `/v2.1/os-services` (admin only): capacity, usage, up/down,
uptime and load (`compute.host_load`), and enabling/disabling a compute host with a reason."""
from __future__ import annotations

import time

from common.http_errors import HTTPError
from compute.http_json import json_response, parse_json, read_body
from compute.views import host_uptime, hypervisor_view, service_view


def _hypervisors(core, detail: bool) -> list[dict]:
    now = time.time()
    usage = core.hosts.usage()
    window = core.conf["heartbeat_window"]
    return [hypervisor_view(h, usage.get(h["name"]), now, window, detail)
            for h in core.hosts.list_hosts()]


def index(core, caller, request):
    caller.require_admin()
    return json_response(200, {"hypervisors": _hypervisors(core, detail=False)})


def detail(core, caller, request):
    caller.require_admin()
    return json_response(200, {"hypervisors": _hypervisors(core, detail=True)})


def _host_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise HTTPError(404, f"Hypervisor {raw} could not be found.") from None


def show(core, caller, request, hypervisor_id):
    caller.require_admin()
    host = core.hosts.get_host_by_id(_host_id(hypervisor_id))
    if host is None:
        raise HTTPError(404, f"Hypervisor {hypervisor_id} could not be found.")
    view = hypervisor_view(host, core.hosts.usage().get(host["name"]), time.time(),
                           core.conf["heartbeat_window"], detail=True)
    return json_response(200, {"hypervisor": view})


def uptime(core, caller, request, hypervisor_id):
    """`GET /os-hypervisors/{id}/uptime`: the host's `uptime(1)` line from its last heartbeat."""
    caller.require_admin()
    host = core.hosts.get_host_by_id(_host_id(hypervisor_id))
    if host is None:
        raise HTTPError(404, f"Hypervisor {hypervisor_id} could not be found.")
    view = hypervisor_view(host, None, time.time(), core.conf["heartbeat_window"], detail=False)
    return json_response(200, {"hypervisor": {**view, "uptime": host_uptime(host)}})


def services(core, caller, request):
    caller.require_admin()
    now = time.time()
    hosts = core.hosts.list_hosts()
    if request.GET.get("host"):
        hosts = [h for h in hosts if h["name"] == request.GET["host"]]
    views = [service_view(h, now, core.conf["heartbeat_window"]) for h in hosts]
    return json_response(200, {"services": views})


def _set_status(core, host_name: str, status, reason):
    if status not in ("enabled", "disabled"):
        raise HTTPError(400, "Invalid input: status must be 'enabled' or 'disabled'.")
    if reason is not None and (not isinstance(reason, str) or not 1 <= len(reason) <= 255):
        raise HTTPError(400, "Invalid input: disabled_reason must be 1 to 255 characters.")
    if status == "enabled" and reason is not None:
        raise HTTPError(400, "Invalid input: disabled_reason only goes with status disabled.")
    host = core.hosts.set_enabled(host_name, status == "enabled", reason)
    if host is None:
        raise HTTPError(404, f"Compute host {host_name} could not be found.")
    return host


def update_service(core, caller, request, service_id):
    """`PUT /os-services/{id}` (2.53 style) or the older `PUT /os-services/<action>`."""
    caller.require_admin()
    body = parse_json(read_body(request))
    now, window = time.time(), core.conf["heartbeat_window"]
    if service_id in ("enable", "disable", "disable-log-reason"):
        host_name = body.get("host")
        if not isinstance(host_name, str) or not host_name:
            raise HTTPError(400, "Invalid input: 'host' is required.")
        if body.get("binary", "nova-compute") != "nova-compute":
            raise HTTPError(400, "Invalid input: only nova-compute services exist.")
        status = "enabled" if service_id == "enable" else "disabled"
        reason = body.get("disabled_reason") if service_id == "disable-log-reason" else None
        if service_id == "disable-log-reason" and reason is None:
            raise HTTPError(400, "Invalid input: 'disabled_reason' is required.")
        host = _set_status(core, host_name, status, reason)
        service = {"host": host["name"], "binary": "nova-compute",
                   "status": "enabled" if host["enabled"] else "disabled"}
        if host["disabled_reason"]:
            service["disabled_reason"] = host["disabled_reason"]
        return json_response(200, {"service": service})
    host = core.hosts.get_host_by_id(_host_id(service_id)) if service_id.isdigit() else None
    if host is None:
        raise HTTPError(404, f"Service {service_id} could not be found.")
    status = body.get("status")
    host = _set_status(core, host["name"], status, body.get("disabled_reason"))
    return json_response(200, {"service": service_view(host, now, window)})
