"""`/v2.1/os-keypairs`: import or generate, list, show, delete (Nova v2.1 shapes).

POST with `public_key` imports it (checked by `compute.ssh_keys`: 400 when it is not an
OpenSSH public key); without one, a key is generated and its `private_key` is in this answer
only. Keypairs are the calling user's; another user's keypair does not exist for the caller.
"""
from __future__ import annotations

import re

from common.http_errors import HTTPError
from compute import keypairs, ssh_keys
from compute.http_json import json_response, parse_json, read_body
from compute.views import iso_z

# Nova's characters for keypair names (letters, digits, '-', '_', ' ', '.', '@').
NAME_RE = re.compile(r"^[A-Za-z0-9_.@ -]{1,255}$")


def check_key_name(value) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value) or value != value.strip():
        raise HTTPError(400, "Keypair data is invalid: the name must be 1 to 255 letters, "
                        "digits, spaces, '-', '_', '.' or '@', without surrounding spaces.")
    return value


def _view(row: dict, detail: bool) -> dict:
    view = {"name": row["name"], "public_key": row["public_key"],
            "fingerprint": row["fingerprint"], "type": row["type"]}
    if detail:
        view.update(user_id=row["user_id"], id=row["id"], created_at=iso_z(row["created_at"]),
                    updated_at=None, deleted=False, deleted_at=None)
    return view


def create(core, caller, request):
    body = parse_json(read_body(request))
    spec = body.get("keypair")
    if not isinstance(spec, dict):
        raise HTTPError(400, "Invalid input: 'keypair' is a required object.")
    unknown = set(spec) - {"name", "public_key", "type", "user_id"}
    if unknown:
        raise HTTPError(400, f"Invalid input: unknown keypair attribute(s) "
                        f"{', '.join(sorted(unknown))}.")
    name = check_key_name(spec.get("name"))
    if spec.get("type", "ssh") != "ssh":
        raise HTTPError(400, "Keypair data is invalid: only type 'ssh' is supported.")
    user_id = spec.get("user_id", caller.user_id)
    if user_id != caller.user_id:
        caller.require_admin()
        if not isinstance(user_id, str) or not user_id:
            raise HTTPError(400, "Invalid input: user_id must be a string.")
    private_key = None
    if spec.get("public_key") is None:
        public_key, private_key = ssh_keys.generate(name.replace(" ", "-"))
    else:
        public_key = spec["public_key"]
    try:
        _, blob, public_key = ssh_keys.parse_public_key(public_key)
    except ssh_keys.BadKey as exc:
        raise HTTPError(400, f"Keypair data is invalid: {exc}.") from None
    try:
        row = keypairs.add(core.db, user_id, name, public_key, ssh_keys.fingerprint(blob))
    except keypairs.Duplicate as exc:
        raise HTTPError(409, str(exc)) from None
    except keypairs.TooMany as exc:
        raise HTTPError(403, str(exc)) from None
    view = _view(row, detail=False)
    view["user_id"] = user_id
    if private_key is not None:
        view["private_key"] = private_key
    return json_response(200, {"keypair": view})


def _user(caller, request) -> str:
    wanted = request.GET.get("user_id")
    if wanted and wanted != caller.user_id:
        caller.require_admin()
        return wanted
    return caller.user_id


def index(core, caller, request):
    rows = keypairs.list_for(core.db, _user(caller, request))
    return json_response(200, {"keypairs": [{"keypair": _view(r, detail=False)} for r in rows]})


def _load(core, caller, request, name: str) -> tuple[str, dict]:
    user_id = _user(caller, request)
    row = keypairs.get(core.db, user_id, name)
    if row is None:
        raise HTTPError(404, f"Keypair {name} not found for user {user_id}.")
    return user_id, row


def show(core, caller, request, name):
    _, row = _load(core, caller, request, name)
    return json_response(200, {"keypair": _view(row, detail=True)})


def delete(core, caller, request, name):
    user_id, _ = _load(core, caller, request, name)
    if not keypairs.remove(core.db, user_id, name):
        raise HTTPError(404, f"Keypair {name} not found for user {user_id}.")
    return json_response(202)
