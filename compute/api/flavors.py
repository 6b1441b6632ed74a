"""`/v2.1/flavors`: list, detail, show; admins create and delete."""
from __future__ import annotations

import uuid

from compute.http_json import HTTPFault, json_response, parse_json, read_body
from compute.repo import Conflict, NotFound
from compute.validation import check_name, positive_int_field
from compute.views import flavor_view


def index(core, caller, request):
    base = core.base_url(request)
    flavors = [flavor_view(f, base, caller.project_id, detail=False)
               for f in core.repo.list_flavors()]
    return json_response(200, {"flavors": flavors})


def detail(core, caller, request):
    base = core.base_url(request)
    flavors = [flavor_view(f, base, caller.project_id) for f in core.repo.list_flavors()]
    return json_response(200, {"flavors": flavors})


def show(core, caller, request, flavor_id):
    try:
        flavor = core.repo.get_flavor(flavor_id)
    except NotFound as exc:
        raise HTTPFault(404, str(exc)) from None
    return json_response(200, {"flavor": flavor_view(flavor, core.base_url(request),
                                                     caller.project_id)})


def create(core, caller, request):
    caller.require_admin()
    body = parse_json(read_body(request))
    spec = body.get("flavor")
    if not isinstance(spec, dict):
        raise HTTPFault(400, "Invalid input: 'flavor' is a required object.")
    name = check_name(spec.get("name"), "flavor name")
    flavor_id = spec.get("id")
    if flavor_id in (None, "auto"):
        flavor_id = str(uuid.uuid4())
    if not isinstance(flavor_id, str | int) or isinstance(flavor_id, bool):
        raise HTTPFault(400, "Invalid input: flavor id must be a string.")
    flavor_id = str(flavor_id).strip()
    if not flavor_id or len(flavor_id) > 255 or "/" in flavor_id:
        raise HTTPFault(400, "Invalid input: bad flavor id.")
    flavor = {
        "id": flavor_id,
        "name": name,
        "vcpus": positive_int_field(spec, "vcpus", minimum=1),
        "ram": positive_int_field(spec, "ram", minimum=1),
        "disk": positive_int_field(spec, "disk", minimum=0),
        "is_public": spec.get("os-flavor-access:is_public", True) is not False,
    }
    try:
        created = core.repo.create_flavor(flavor)
    except Conflict as exc:
        raise HTTPFault(409, str(exc)) from None
    return json_response(200, {"flavor": flavor_view(created, core.base_url(request),
                                                     caller.project_id)})


def delete(core, caller, request, flavor_id):
    caller.require_admin()
    try:
        core.repo.delete_flavor(flavor_id)
    except NotFound as exc:
        raise HTTPFault(404, str(exc)) from None
    return json_response(202)
