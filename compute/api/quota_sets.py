"""`/v2.1/os-quota-sets/{project}`: read (own project or admin), defaults, update (admin)."""
from __future__ import annotations

from common.http_errors import HTTPError
from compute.http_json import json_response, parse_json, read_body
from compute.quotas import RESOURCES
from compute.views import quota_set_view


def show(core, caller, request, project_id):
    caller.require_project(project_id)
    limits = core.quotas.limits(project_id)
    if request.GET.get("usage", "").lower() in ("1", "true"):
        used = core.quotas.usage(project_id)
        detail = {r: {"limit": limits[r], "in_use": used[r], "reserved": 0}
                  for r in RESOURCES}
        return json_response(200, quota_set_view(project_id, detail))
    return json_response(200, quota_set_view(project_id, limits))


def defaults(core, caller, request, project_id):
    caller.require_project(project_id)
    return json_response(200, quota_set_view(project_id, dict(core.quotas.defaults)))


def update(core, caller, request, project_id):
    caller.require_admin()
    body = parse_json(read_body(request))
    spec = body.get("quota_set")
    if not isinstance(spec, dict) or not spec:
        raise HTTPError(400, "Invalid input: 'quota_set' is a required object.")
    changes = {}
    for key, value in spec.items():
        if key == "force":
            continue
        if key not in RESOURCES:
            raise HTTPError(400, f"Bad key(s) {key} in quota_set")
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < -1:
            raise HTTPError(400, f"Invalid input: quota '{key}' must be an integer >= -1.")
        changes[key] = value
    limits = core.quotas.set_limits(project_id, changes)
    return json_response(200, {"quota_set": limits})
