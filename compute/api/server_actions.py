"""Day-2 server actions of `POST /v2.1/servers/{id}/action` (Nova v2.1 shapes): createImage,
createBackup, shelve, shelveOffload, unshelve, rebuild, resize, confirmResize, revertResize,
migrate and evacuate (the last two for admins only).

Each handler checks its arguments (400), the caller's rights (403) and the server's state
(409, as Nova answers an action in the wrong state), makes what the operation needs in the
image service with the caller's token (`compute.image_records`), marks the operation in
flight and records the instance action, then hands over to `compute.lifecycle`.
createImage and createBackup answer the image's URL in `Location` and, for microversion
2.45 and later, `{"image_id"}` in the body.
"""
from __future__ import annotations

import time

from common.http_errors import HTTPError
from compute import states
from compute.api.flavors import get_visible_flavor
from compute.api.servers import _conflict, reachable_host
from compute.http_json import json_response
from compute.image_lookup import (
    check_image_fits,
    image_id_from_ref,
    image_meta_of,
    resolve_boot_images,
)
from compute.image_records import ImageRecordError, snapshot_properties
from compute.instance_actions import request_id_of
from compute.lifecycle import may_start
from compute.move_claims import flavor_of
from compute.quotas import check_quota
from compute.repo import NotFound
from compute.validation import check_metadata, check_name
from compute.views import is_up, server_view

IMAGE_BODY_VERSION = (2, 45)
MAX_BACKUP_ROTATION = 1000


def microversion(request) -> tuple[int, int]:
    """The compute microversion a request asks for (2.1 when it names none)."""
    raw = request.headers.get("OpenStack-API-Version", "")
    value = ""
    if raw.lower().startswith("compute "):
        value = raw[len("compute "):].strip()
    value = value or request.headers.get("X-OpenStack-Nova-API-Version", "").strip()
    if value.lower() == "latest":
        return IMAGE_BODY_VERSION
    major, _, minor = value.partition(".")
    if major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return 2, 1


def _token(request) -> str:
    return request.headers.get("X-Auth-Token", "")


def _image_error(exc: ImageRecordError) -> HTTPError:
    if exc.status in (400, 403, 409, 413):
        return HTTPError(403 if exc.status == 413 else exc.status, f"Image service: {exc}")
    return HTTPError(503, f"Image service is unavailable: {exc}")


def _args(args, what: str, required: bool = True) -> dict:
    if args is None and not required:
        return {}
    if not isinstance(args, dict):
        raise HTTPError(400, f"Invalid input for {what}: an object is required.")
    return args


def _record(core, caller, request, server: dict, action: str) -> None:
    core.conductor.actions.start(server["id"], action, request_id_of(request.environ),
                                 caller.project_id, caller.user_id, host=server["host"])


def _begin(core, server: dict, action: str, **changes) -> dict:
    begun = core.lifecycle.begin(server, action, **changes)
    if begun is None:
        _conflict(core.repo.get_server(server["id"]), action)
    return begun


def _check_state(server: dict, action: str) -> None:
    if not may_start(server, action):
        _conflict(server, action)


# snapshots and backups -------------------------------------------------------------------
def create_image(core, caller, request, server, args):
    args = _args(args, "createImage")
    name = check_name(args.get("name"), "image name")
    metadata = check_metadata(args.get("metadata"))
    return _snapshot(core, caller, request, server, "createImage", name,
                     snapshot_properties(server, "snapshot", metadata), None)


def create_backup(core, caller, request, server, args):
    args = _args(args, "createBackup")
    name = check_name(args.get("name"), "backup name")
    backup_type = args.get("backup_type")
    if not isinstance(backup_type, str) or not backup_type.strip() or len(backup_type) > 255:
        raise HTTPError(400, "Invalid input for createBackup: backup_type is required.")
    rotation = args.get("rotation")
    if isinstance(rotation, str) and rotation.isdigit():
        rotation = int(rotation)
    if not isinstance(rotation, int) or isinstance(rotation, bool) or not (
            0 <= rotation <= MAX_BACKUP_ROTATION):
        raise HTTPError(400, "Invalid input for createBackup: rotation must be an integer "
                        f"from 0 to {MAX_BACKUP_ROTATION}.")
    metadata = check_metadata(args.get("metadata"))
    props = snapshot_properties(server, "backup", {**metadata, "backup_type": backup_type})
    return _snapshot(core, caller, request, server, "createBackup", name, props,
                     (backup_type, rotation))


def _snapshot(core, caller, request, server, action, name, props, backup):
    _check_state(server, action)
    reachable_host(core, server)
    token = _token(request)
    try:
        image = core.images.create(token, name, server, props)
    except ImageRecordError as exc:
        raise _image_error(exc) from None
    try:
        _begin(core, server, action)
    except HTTPError:
        core.lifecycle.drop_image(token, image["id"])
        raise
    _record(core, caller, request, server, action)
    core.lifecycle.snapshot(server["id"], image["id"], token, action, backup)
    headers, body = {}, None
    if backup is None or backup[1] > 0:
        if microversion(request) >= IMAGE_BODY_VERSION:
            body = {"image_id": image["id"]}
        else:
            headers["Location"] = f"{core.conf['image_url'].rstrip('/')}/v2/images/{image['id']}"
    return json_response(202, body, headers=headers)


# shelve ----------------------------------------------------------------------------------
def shelve(core, caller, request, server, args):
    _check_state(server, "shelve")
    reachable_host(core, server)
    token = _token(request)
    try:
        image = core.images.create(token, f"{server['name']}-shelved", server,
                                   snapshot_properties(server, "snapshot"))
    except ImageRecordError as exc:
        raise _image_error(exc) from None
    try:
        _begin(core, server, "shelve")
    except HTTPError:
        core.lifecycle.drop_image(token, image["id"])
        raise
    _record(core, caller, request, server, "shelve")
    core.lifecycle.shelve(server["id"], image["id"], token)
    return json_response(202)


def shelve_offload(core, caller, request, server, args):
    _check_state(server, "shelveOffload")
    _begin(core, server, "shelveOffload")
    _record(core, caller, request, server, "shelveOffload")
    core.lifecycle.shelve_offload(server["id"])
    return json_response(202)


def unshelve(core, caller, request, server, args):
    args = _args(args, "unshelve", required=False)
    zone = args.get("availability_zone")
    changes = {}
    if zone is not None:
        if not isinstance(zone, str) or not zone:
            raise HTTPError(400, "Invalid input: availability_zone must be a string.")
        if server["vm_state"] != states.SHELVED_OFFLOADED:
            _conflict(server, "unshelve")
        if zone not in {h["availability_zone"] for h in core.hosts.list_hosts()}:
            raise HTTPError(400, f"The requested availability zone is not available: {zone}")
        changes["availability_zone"] = zone
    _check_state(server, "unshelve")
    token = _token(request)
    image = {"id": server["shelved_image_id"]}
    if server["vm_state"] == states.SHELVED_OFFLOADED:
        if not server["shelved_image_id"]:
            raise HTTPError(409, f"Instance {server['id']} has no shelved image.")
        try:
            image = core.images.get(token, server["shelved_image_id"])
        except ImageRecordError as exc:
            if exc.status == 404:
                raise HTTPError(409, f"The shelved image of instance {server['id']} is "
                                "gone.") from None
            raise _image_error(exc) from None
        if image.get("status") != "active":
            raise HTTPError(409, f"The shelved image of instance {server['id']} is not "
                            "active.")
        image = image_meta_of(image)
    else:
        reachable_host(core, server)
    _begin(core, server, "unshelve", **changes)
    _record(core, caller, request, server, "unshelve")
    core.lifecycle.unshelve(server["id"], image, token)
    return json_response(202)


# rebuild and evacuate --------------------------------------------------------------------
def rebuild(core, caller, request, server, args):
    args = _args(args, "rebuild")
    image_id = image_id_from_ref(args.get("imageRef"))
    changes = {}
    if "name" in args:
        changes["name"] = check_name(args.get("name"), "server name")
    if "metadata" in args:
        changes["metadata"] = check_metadata(args.get("metadata"))
    _check_state(server, "rebuild")
    token = _token(request)
    image = core.fetch_image(image_id, token)
    check_image_fits(image, image_id, flavor_of(server))
    boot_images = resolve_boot_images(image, image_id, lambda ref: core.fetch_image(ref, token))
    reachable_host(core, server)
    begun = _begin(core, server, "rebuild", image_ref=image_id, image_meta=image_meta_of(image),
                   **boot_images, **changes)
    _record(core, caller, request, server, "rebuild")
    core.lifecycle.rebuild(server["id"], start=server["vm_state"] != states.STOPPED)
    view = server_view(begun, core.base_url(request), caller.is_admin)
    return json_response(202, {"server": view})


def evacuate(core, caller, request, server, args):
    caller.require_admin()
    args = _args(args, "evacuate", required=False)
    target = args.get("host")
    if target is not None:
        if not isinstance(target, str) or core.hosts.get_host(target) is None:
            raise HTTPError(400, f"Compute host {target} could not be found.")
        if target == server["host"]:
            raise HTTPError(400, "The target host is the server's own host.")
    if args.get("onSharedStorage") not in (None, False, "False", "false"):
        raise HTTPError(400, "Invalid input: onSharedStorage is not supported.")
    _check_state(server, "evacuate")
    host = core.hosts.get_host(server["host"]) if server["host"] else None
    if host is not None and is_up(host, time.time(), core.conf["heartbeat_window"]):
        raise HTTPError(400, f"Compute service of {server['host']} is still in use.")
    token = _token(request)
    try:
        backups = core.images.backups(token, server["id"])
    except ImageRecordError as exc:
        raise _image_error(exc) from None
    if backups:
        image = image_meta_of(backups[0])
    else:
        image = image_meta_of(core.fetch_image(server["image_ref"], token))
    _begin(core, server, "evacuate")
    _record(core, caller, request, server, "evacuate")
    core.lifecycle.evacuate(server["id"], image, target,
                            start=server["vm_state"] != states.STOPPED)
    return json_response(200)


# resize and cold migration ---------------------------------------------------------------
def resize(core, caller, request, server, args):
    args = _args(args, "resize")
    ref = args.get("flavorRef")
    if not isinstance(ref, str | int) or isinstance(ref, bool) or ref == "":
        raise HTTPError(400, "Invalid input for resize: flavorRef is required.")
    flavor_id = str(ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = get_visible_flavor(core, caller, flavor_id)
    except NotFound:
        raise HTTPError(400, f"Flavor {flavor_id} could not be found.") from None
    if flavor["id"] == server["flavor_id"]:
        raise HTTPError(400, "When resizing, instances must change flavor!")
    if flavor["disk"] < server["disk"]:
        raise HTTPError(400, "Resize to a flavor with a smaller disk is not allowed.")
    check_image_fits({"status": "active", **server["image_meta"]}, server["image_ref"], flavor)
    exclude = frozenset() if core.conf["allow_resize_to_same_host"] else frozenset(
        {server["host"]})
    wanted = {key: flavor[key] for key in ("id", "vcpus", "ram", "disk")}
    _check_resize_quota(core, server, wanted)
    return _move(core, caller, request, server, "resize", wanted, exclude, None)


def _check_resize_quota(core, server, wanted: dict) -> None:
    """403 when the larger flavor would take the project past its cores or RAM quota."""
    current = flavor_of(server)
    growth = {"instances": 0, "cores": max(0, wanted["vcpus"] - current["vcpus"]),
              "ram": max(0, wanted["ram"] - current["ram"])}
    if growth["cores"] or growth["ram"]:
        project = server["project_id"]
        message = check_quota(core.quotas.limits(project), core.quotas.usage(project), growth)
        if message is not None:
            raise HTTPError(403, message)


def migrate(core, caller, request, server, args):
    caller.require_admin()
    args = _args(args, "migrate", required=False)
    target = args.get("host")
    if target is not None:
        if not isinstance(target, str) or core.hosts.get_host(target) is None:
            raise HTTPError(400, f"Compute host {target} could not be found.")
        if target == server["host"]:
            raise HTTPError(400, "Unable to migrate instance to its own host.")
    return _move(core, caller, request, server, "migrate", flavor_of(server),
                 frozenset({server["host"]}), target)


def _move(core, caller, request, server, action, flavor, exclude, target):
    _check_state(server, action)
    reachable_host(core, server)
    token = _token(request)
    try:
        image = core.images.create(token, f"{server['name']}-{action}", server,
                                   snapshot_properties(server, "snapshot"), hidden=True)
    except ImageRecordError as exc:
        raise _image_error(exc) from None
    try:
        _begin(core, server, action)
    except HTTPError:
        core.lifecycle.drop_image(token, image["id"])
        raise
    _record(core, caller, request, server, action)
    core.lifecycle.resize(server["id"], action, flavor, image["id"], token, exclude, target)
    return json_response(202)


def confirm_resize(core, caller, request, server, args):
    _check_state(server, "confirmResize")
    _record(core, caller, request, server, "confirmResize")
    if core.lifecycle.confirm_resize(server) is None:
        core.conductor.actions.finish(server["id"], "confirmResize", False, "state changed")
        _conflict(core.repo.get_server(server["id"]), "confirmResize")
    return json_response(204)


def revert_resize(core, caller, request, server, args):
    _check_state(server, "revertResize")
    _begin(core, server, "revertResize")
    _record(core, caller, request, server, "revertResize")
    core.lifecycle.revert_resize(server["id"])
    return json_response(202)


HANDLERS = {
    "createImage": create_image,
    "createBackup": create_backup,
    "shelve": shelve,
    "shelveOffload": shelve_offload,
    "unshelve": unshelve,
    "rebuild": rebuild,
    "evacuate": evacuate,
    "resize": resize,
    "migrate": migrate,
    "confirmResize": confirm_resize,
    "revertResize": revert_resize,
}
