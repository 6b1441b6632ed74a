"""JSON-patch (`application/openstack-images-v2.1-json-patch`) applied to an image.

`apply_patch` works on a copy and returns the changes to store, or raises `PatchError` with
the HTTP status Glance gives: 400 for a malformed document, path or value, 403 for
read-only/reserved attributes and forbidden changes, 409 for replacing or removing a property
that does not exist, 413 past the property quota. Nothing is stored unless every operation
succeeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from imagesvc import schema
from imagesvc.policy import Identity, may_set_visibility

PATCH_CONTENT_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
OPERATIONS = ("add", "replace", "remove")


class PatchError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Changes:
    fields: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)


def parse_path(path) -> str:
    """A one-level JSON pointer ('/name', '/my~1prop') -> the attribute name."""
    if not isinstance(path, str) or not path.startswith("/") or len(path) < 2:
        raise PatchError(400, f"invalid patch path {path!r}: expected '/<attribute>'")
    body = path[1:]
    if "/" in body:
        raise PatchError(400, f"invalid patch path {path!r}: nested paths are not supported")
    if "~" in body.replace("~0", "").replace("~1", ""):
        raise PatchError(400, f"invalid patch path {path!r}: bad '~' escape")
    return body.replace("~1", "/").replace("~0", "~")


def _check_operation(op) -> tuple[str, str, object]:
    if not isinstance(op, dict):
        raise PatchError(400, "each patch operation must be a JSON object")
    kind = op.get("op")
    if kind not in OPERATIONS:
        raise PatchError(400, f"unsupported patch operation {kind!r}; use add, replace, remove")
    name = parse_path(op.get("path"))
    if kind != "remove" and "value" not in op:
        raise PatchError(400, f"patch operation {kind!r} needs a 'value'")
    extra = set(op) - {"op", "path", "value"}
    if extra:
        raise PatchError(400, f"unknown member {sorted(extra)[0]!r} in patch operation")
    return kind, name, op.get("value")


def apply_patch(image: dict, operations, who: Identity) -> Changes:
    if not isinstance(operations, list):
        raise PatchError(400, "a patch document must be a JSON list of operations")
    changes = Changes(properties=dict(image["properties"]), tags=list(image["tags"]))
    current = {name: image[name] for name in (*schema.WRITABLE, "owner") if name != "tags"}
    for op in operations:
        kind, name, value = _check_operation(op)
        if name in schema.READ_ONLY:
            raise PatchError(403, f"Attribute '{name}' is read-only.")
        if name in schema.RESERVED or name.startswith(schema.RESERVED_PREFIX):
            raise PatchError(403, f"Attribute '{name}' is reserved.")
        if name == "owner" and not who.is_admin:
            raise PatchError(403, "Attribute 'owner' can be changed by admins only.")
        if name in schema.WRITABLE or name == "owner":
            if kind == "remove":
                raise PatchError(403, f"Attribute '{name}' may not be removed.")
            _set_core(image, changes, current, name, value, who)
        else:
            _change_property(changes, kind, name, value)
    if len(changes.properties) > schema.MAX_PROPERTIES:
        raise PatchError(413, f"at most {schema.MAX_PROPERTIES} properties per image")
    return changes


def _set_core(image, changes: Changes, current: dict, name: str, value, who: Identity) -> None:
    try:
        value = schema.validate_attribute(name, value)
    except schema.InvalidValue as exc:
        raise PatchError(400, str(exc)) from None
    if name == "tags":
        changes.tags = value
        return
    if name == "visibility" and not may_set_visibility(who, value):
        raise PatchError(403, "Only admins may make an image public.")
    if name in ("disk_format", "container_format") and value != current[name]:
        if image["status"] != "queued":
            raise PatchError(403, f"Attribute {name} can be changed only while queued.")
    current[name] = value
    changes.fields[name] = value


def _change_property(changes: Changes, kind: str, name: str, value) -> None:
    if kind == "remove":
        if name not in changes.properties:
            raise PatchError(409, f"Property {name} does not exist.")
        del changes.properties[name]
        return
    if kind == "replace" and name not in changes.properties:
        raise PatchError(409, f"Property {name} does not exist.")
    try:
        changes.properties[name] = schema.validate_property(name, value)
    except schema.InvalidValue as exc:
        raise PatchError(400, str(exc)) from None
