"""`/v2.1/servers/{id}/os-instance-actions[/{request_id}]`: what was done to a server, by
whom, when, and how it went (Nova's shapes; `compute.instance_actions` keeps the records).

A server's own project (and admins) may read them, also after the server was deleted. An
event's `traceback` is only shown to admins (we keep a one-line detail, not a traceback).
"""
from __future__ import annotations

from common.http_errors import HTTPError
from compute.http_json import json_response
from compute.repo import NotFound
from compute.views import host_id, iso_z


def _server(core, caller, server_id: str) -> dict:
    try:
        server = core.repo.get_server(server_id, include_deleted=True)
    except NotFound:
        raise HTTPError(404, f"Instance {server_id} could not be found.") from None
    if server["project_id"] != caller.project_id and not caller.is_admin:
        raise HTTPError(404, f"Instance {server_id} could not be found.")
    return server


def _action_view(action: dict) -> dict:
    return {
        "action": action["action"],
        "instance_uuid": action["server_id"],
        "request_id": action["request_id"],
        "user_id": action["user_id"],
        "project_id": action["project_id"],
        "start_time": iso_z(action["start_time"]),
        "updated_at": iso_z(action["updated_at"]),
        "message": action["message"],
    }


def _event_view(event: dict, project_id: str, is_admin: bool) -> dict:
    view = {
        "event": event["event"],
        "start_time": iso_z(event["start_time"]),
        "finish_time": iso_z(event["finish_time"]),
        "result": event["result"],
        "hostId": host_id(project_id, event["host"]),
    }
    if is_admin:
        view["traceback"] = event["details"]
        view["host"] = event["host"] or ""
    return view


def index(core, caller, request, server_id):
    server = _server(core, caller, server_id)
    actions = core.conductor.actions.list(server["id"])
    return json_response(200, {"instanceActions": [_action_view(a) for a in actions]})


def show(core, caller, request, server_id, request_id):
    server = _server(core, caller, server_id)
    action = core.conductor.actions.get(server["id"], request_id)
    if action is None:
        raise HTTPError(404, f"Action {request_id} could not be found.")
    view = _action_view(action)
    view["events"] = [_event_view(e, server["project_id"], caller.is_admin)
                      for e in action["events"]]
    return json_response(200, {"instanceAction": view})
