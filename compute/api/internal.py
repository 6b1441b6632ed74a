"""`/internal/v1/...`: what compute agents call, signed with the service secret.

Signatures must name the API as their target and are accepted once (`compute.service_auth`);
anything else gets 401.

- `PUT  /internal/v1/hosts/<host>`            heartbeat / registration → {"delete": [...]}
- `POST /internal/v1/servers/<id>/events`     build_done, build_failed, power_changed
"""
from __future__ import annotations

from common.http_errors import HTTPError
from compute.http_json import json_response, parse_json, read_body
from compute.service_auth import is_host_name

REQUIRED_REPORT = {
    "availability_zone": str, "agent_url": str, "boot_id": str, "hypervisor_type": str,
    "vcpus": int, "memory_mb": int, "local_gb": int,
}
EVENTS = ("build_done", "build_failed", "power_changed")


def _signed_body(core, request) -> dict:
    raw = read_body(request)
    target = request.path_qs if request.query_string else request.path
    refused = core.service_verifier.refusal(request.method, target, raw, request.headers)
    if refused:
        raise HTTPError(401, f"Unauthorized: {refused}.")
    return parse_json(raw)


def heartbeat(core, request, host_name):
    report = _signed_body(core, request)
    if not is_host_name(host_name):
        raise HTTPError(400, "Invalid host name: 1-255 printable ASCII characters, no spaces "
                             "or slashes.")
    for key, kind in REQUIRED_REPORT.items():
        if not isinstance(report.get(key), kind):
            raise HTTPError(400, f"Invalid host report: '{key}' missing or wrong type.")
    if not isinstance(report.get("instances", {}), dict):
        raise HTTPError(400, "Invalid host report: 'instances' must be an object.")
    report["host"] = host_name
    _, restarted = core.hosts.record_heartbeat(report)
    to_delete = core.conductor.reconcile_host(report, restarted)
    return json_response(200, {"delete": to_delete})


def event(core, request, server_id):
    body = _signed_body(core, request)
    if body.get("event") not in EVENTS or not isinstance(body.get("host"), str):
        raise HTTPError(400, "Invalid event.")
    core.conductor.apply_event(server_id, body)
    return json_response(200, {"ok": True})
