"""Image attributes: which exist, which a client may write, how values are checked, and the
JSON schemas (`/v2/schemas/...`) that describe the API's documents.

python-glanceclient downloads these schemas and validates every image it receives against
them, so `render_image` and `IMAGE_SCHEMA` must agree exactly.
"""
from __future__ import annotations

import re
import uuid

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
STATUSES = (
    "queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated",
    "uploading", "importing",
)
MEMBER_STATUSES = ("pending", "accepted", "rejected")

# Attributes a client may set on create and change with PATCH.
WRITABLE = (
    "name", "visibility", "protected", "os_hidden", "min_ram", "min_disk", "disk_format",
    "container_format", "tags",
)
# Attributes the service owns; writing them is refused with 403.
READ_ONLY = (
    "id", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size",
    "created_at", "updated_at", "self", "file", "schema", "direct_url", "locations",
)
# Names that are neither attributes nor allowed as extra properties.
RESERVED = ("deleted", "deleted_at", "owner_id", "location")
RESERVED_PREFIX = "os_glance"

MAX_NAME_LENGTH = 255
MAX_TAGS = 128
MAX_PROPERTIES = 128
MAX_PROPERTY_VALUE = 65535
_PROPERTY_NAME = re.compile(r"^[^\x00-\x1f/]{1,255}$")


class InvalidValue(ValueError):
    """A value that does not fit its attribute; the message is one line."""


def is_uuid(text) -> bool:
    if not isinstance(text, str):
        return False
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _nullable_string(name: str, value, choices=None, max_length=MAX_NAME_LENGTH):
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string or null")
    if len(value) > max_length:
        raise InvalidValue(f"{name} longer than {max_length} characters")
    if choices is not None and value not in choices:
        raise InvalidValue(f"invalid {name} {value!r}; valid values: {', '.join(choices)}")
    return value


def _non_negative_int(name: str, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValue(f"{name} must be a non-negative integer")
    if value > 2**63 - 1:
        raise InvalidValue(f"{name} too large")
    return value


def _boolean(name: str, value):
    if not isinstance(value, bool):
        raise InvalidValue(f"{name} must be true or false")
    return value


def validate_tags(value) -> list[str]:
    if not isinstance(value, list):
        raise InvalidValue("tags must be a list of strings")
    for tag in value:
        validate_tag(tag)
    if len(set(value)) > MAX_TAGS:
        raise InvalidValue(f"at most {MAX_TAGS} tags per image")
    return sorted(set(value))


def validate_tag(tag) -> str:
    if not isinstance(tag, str) or not tag:
        raise InvalidValue("a tag must be a non-empty string")
    if len(tag) > MAX_NAME_LENGTH:
        raise InvalidValue(f"tag longer than {MAX_NAME_LENGTH} characters")
    if "/" in tag or any(ord(ch) < 32 for ch in tag):
        raise InvalidValue("a tag must not contain '/' or control characters")
    return tag


def validate_attribute(name: str, value):
    """Check one writable core attribute; returns the normalized value."""
    if name == "name":
        return _nullable_string(name, value)
    if name == "visibility":
        if value is None:
            raise InvalidValue("visibility must not be null")
        return _nullable_string(name, value, VISIBILITIES)
    if name in ("protected", "os_hidden"):
        return _boolean(name, value)
    if name in ("min_ram", "min_disk"):
        return _non_negative_int(name, value)
    if name == "disk_format":
        return _nullable_string(name, value, DISK_FORMATS)
    if name == "container_format":
        return _nullable_string(name, value, CONTAINER_FORMATS)
    if name == "tags":
        return validate_tags(value)
    if name == "owner":
        return _nullable_string(name, value)
    raise InvalidValue(f"unknown attribute {name!r}")


def validate_property(name, value) -> str:
    """Check an extra (custom) property: string name and string value."""
    if not isinstance(name, str) or not _PROPERTY_NAME.match(name):
        raise InvalidValue("a property name must be 1-255 characters without '/'")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidValue(f"property {name!r} uses the reserved prefix {RESERVED_PREFIX}")
    if not isinstance(value, str):
        raise InvalidValue(f"property {name!r} must have a string value")
    if len(value) > MAX_PROPERTY_VALUE:
        raise InvalidValue(f"property {name!r} value too long")
    return value


def render_image(image: dict) -> dict:
    """The API document of an image (core attributes, links, then extra properties)."""
    doc = dict(image["properties"])
    for name in (
        "id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
        "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_ram",
        "min_disk", "disk_format", "container_format", "created_at", "updated_at",
    ):
        doc[name] = image[name]
    doc["tags"] = list(image["tags"])
    doc["self"] = f"/v2/images/{image['id']}"
    doc["file"] = f"/v2/images/{image['id']}/file"
    doc["schema"] = "/v2/schemas/image"
    return doc


def render_member(member: dict) -> dict:
    return {
        "image_id": member["image_id"],
        "member_id": member["member"],
        "status": member["status"],
        "created_at": member["created_at"],
        "updated_at": member["updated_at"],
        "schema": "/v2/schemas/member",
    }


def _nullable(kind: str, description: str, **extra) -> dict:
    return {"type": [kind, "null"], "description": description, **extra}


IMAGE_SCHEMA = {
    "name": "image",
    "additionalProperties": {"type": "string"},
    "properties": {
        "id": {
            "type": "string",
            "description": "An identifier for the image",
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
            "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
        },
        "name": _nullable("string", "Descriptive name for the image", maxLength=255),
        "status": {
            "type": "string",
            "readOnly": True,
            "description": "Status of the image",
            "enum": list(STATUSES),
        },
        "visibility": {
            "type": "string",
            "description": "Scope of image accessibility",
            "enum": list(VISIBILITIES),
        },
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {
            "type": "boolean",
            "description": "If true, image will not appear in default image list response.",
        },
        "checksum": _nullable("string", "md5 hash of image contents.", readOnly=True,
                              maxLength=32),
        "os_hash_algo": _nullable("string", "Algorithm of os_hash_value", readOnly=True,
                                  maxLength=64),
        "os_hash_value": _nullable("string", "Hexdigest of the image contents",
                                   readOnly=True, maxLength=128),
        "owner": _nullable("string", "Owner of the image", maxLength=255),
        "size": _nullable("integer", "Size of image file in bytes", readOnly=True),
        "virtual_size": _nullable("integer", "Virtual size of image in bytes", readOnly=True),
        "container_format": {
            "type": ["null", "string"],
            "description": "Format of the container",
            "enum": [None, *CONTAINER_FORMATS],
        },
        "disk_format": {
            "type": ["null", "string"],
            "description": "Format of the disk",
            "enum": [None, *DISK_FORMATS],
        },
        "created_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of image registration"},
        "updated_at": {"type": "string", "readOnly": True,
                       "description": "Date and time of the last image modification"},
        "tags": {
            "type": "array",
            "description": "List of strings related to the image",
            "items": {"type": "string", "maxLength": 255},
        },
        "self": {"type": "string", "readOnly": True, "description": "An image self url"},
        "file": {"type": "string", "readOnly": True, "description": "An image file url"},
        "schema": {"type": "string", "readOnly": True,
                   "description": "An image schema url"},
        "min_ram": {"type": "integer",
                    "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer",
                     "description": "Amount of disk space (in GB) required to boot image."},
    },
    "links": [
        {"rel": "self", "href": "{self}"},
        {"rel": "enclosure", "href": "{file}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

IMAGES_SCHEMA = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": IMAGE_SCHEMA},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

MEMBER_SCHEMA = {
    "name": "member",
    "properties": {
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "image_id": {"type": "string", "description": "An identifier for the image",
                     "pattern": IMAGE_SCHEMA["properties"]["id"]["pattern"]},
        "member_id": {"type": "string", "description": "An identifier for the image member"},
        "status": {"type": "string", "description": "The status of this image member",
                   "enum": list(MEMBER_STATUSES)},
        "updated_at": {"type": "string",
                       "description": "Date and time of last modification of image member"},
        "schema": {"type": "string", "readOnly": True},
    },
}

MEMBERS_SCHEMA = {
    "name": "members",
    "properties": {
        "members": {"type": "array", "items": MEMBER_SCHEMA},
        "schema": {"type": "string"},
    },
    "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
}

SCHEMAS = {
    "image": IMAGE_SCHEMA,
    "images": IMAGES_SCHEMA,
    "member": MEMBER_SCHEMA,
    "members": MEMBERS_SCHEMA,
}
