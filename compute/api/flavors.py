"""`/v2.1/flavors`: list, detail, show; admins create and delete.

Private flavors (`os-flavor-access:is_public` false) exist for admins only: other callers
neither list, show nor boot them (404 / 400 "could not be found"), as in Nova without a
flavor-access entry."""
from __future__ import annotations

import uuid

from common.http_errors import HTTPError
from compute.http_json import json_response, parse_json, read_body
from compute.repo import Conflict, NotFound
from compute.validation import check_name, positive_int_field
from compute.views import flavor_view

IS_PUBLIC_VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False,
                    "no": False, "none": None, "all": None}


def visible_flavors(core, caller, request) -> list[dict]:
    """Non-admins see public flavors only; admins see all, or filter with `?is_public=`
    (true, false, or none/all)."""
    flavors = core.repo.list_flavors()
    if not caller.is_admin:
        return [f for f in flavors if f["is_public"]]
    raw = request.GET.get("is_public")
    if raw is None:
        return flavors
    if raw.lower() not in IS_PUBLIC_VALUES:
        raise HTTPError(400, f"Invalid is_public filter [{raw}]")
    wanted = IS_PUBLIC_VALUES[raw.lower()]
    return [f for f in flavors if wanted is None or bool(f["is_public"]) == wanted]


def get_visible_flavor(core, caller, flavor_id: str) -> dict:
    """The flavor, if the caller may see it; NotFound for private flavors and non-admins."""
    flavor = core.repo.get_flavor(flavor_id)
    if not flavor["is_public"] and not caller.is_admin:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def index(core, caller, request):
    base = core.base_url(request)
    flavors = [flavor_view(f, base, caller.project_id, detail=False)
               for f in visible_flavors(core, caller, request)]
    return json_response(200, {"flavors": flavors})


def detail(core, caller, request):
    base = core.base_url(request)
    flavors = [flavor_view(f, base, caller.project_id)
               for f in visible_flavors(core, caller, request)]
    return json_response(200, {"flavors": flavors})


def show(core, caller, request, flavor_id):
    try:
        flavor = get_visible_flavor(core, caller, flavor_id)
    except NotFound as exc:
        raise HTTPError(404, str(exc)) from None
    return json_response(200, {"flavor": flavor_view(flavor, core.base_url(request),
                                                     caller.project_id)})


def create(core, caller, request):
    caller.require_admin()
    body = parse_json(read_body(request))
    spec = body.get("flavor")
    if not isinstance(spec, dict):
        raise HTTPError(400, "Invalid input: 'flavor' is a required object.")
    name = check_name(spec.get("name"), "flavor name")
    flavor_id = spec.get("id")
    if flavor_id in (None, "auto"):
        flavor_id = str(uuid.uuid4())
    if not isinstance(flavor_id, str | int) or isinstance(flavor_id, bool):
        raise HTTPError(400, "Invalid input: flavor id must be a string.")
    flavor_id = str(flavor_id).strip()
    if not flavor_id or len(flavor_id) > 255 or "/" in flavor_id:
        raise HTTPError(400, "Invalid input: bad flavor id.")
    flavor = {
        "id": flavor_id,
        "name": name,
        "vcpus": positive_int_field(spec, "vcpus", minimum=1),
        "ram": positive_int_field(spec, "ram", minimum=1),
        "disk": positive_int_field(spec, "disk", minimum=0),
        "is_public": spec.get("os-flavor-access:is_public", True),
    }
    if not isinstance(flavor["is_public"], bool):
        raise HTTPError(400, "Invalid input: 'os-flavor-access:is_public' must be a boolean.")
    try:
        created = core.repo.create_flavor(flavor)
    except Conflict as exc:
        raise HTTPError(409, str(exc)) from None
    return json_response(200, {"flavor": flavor_view(created, core.base_url(request),
                                                     caller.project_id)})


def delete(core, caller, request, flavor_id):
    caller.require_admin()
    try:
        core.repo.delete_flavor(flavor_id)
    except NotFound as exc:
        raise HTTPError(404, str(exc)) from None
    return json_response(202)
