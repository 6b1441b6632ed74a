"""`/v2.1/os-simple-tenant-usage[/{project}]?start=&end=`: usage for billing."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from common.http_errors import HTTPError
from compute.http_json import json_response
from compute.usage import tenant_usage, usage_by_project

DEFAULT_PERIOD = 30 * 86400.0


def _parse_time(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HTTPError(400, f"Invalid {name} time: {raw!r} (ISO 8601 expected).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _window(request) -> tuple[float, float, float]:
    now = time.time()
    end = _parse_time(request.GET.get("end"), "end")
    end = now if end is None else end
    start = _parse_time(request.GET.get("start"), "start")
    start = end - DEFAULT_PERIOD if start is None else start
    if start > end:
        raise HTTPError(400, "Invalid input: start must be before end.")
    return start, end, now


def index(core, caller, request):
    caller.require_admin()
    start, end, now = _window(request)
    detailed = request.GET.get("detailed", "").lower() in ("1", "true")
    servers = core.repo.all_servers_for_usage(None, start, end)
    usages = usage_by_project(servers, start, end, now, detailed)
    return json_response(200, {"tenant_usages": usages})


def show(core, caller, request, project_id):
    caller.require_project(project_id)
    start, end, now = _window(request)
    servers = core.repo.all_servers_for_usage(project_id, start, end)
    flavors = {f["id"]: f["name"] for f in core.repo.list_flavors()}
    for server in servers:
        server["flavor_name"] = flavors.get(server["flavor_id"], server["flavor_id"])
    usage = tenant_usage(project_id, servers, start, end, now) if servers else {}
    return json_response(200, {"tenant_usage": usage})
