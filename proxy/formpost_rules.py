"""What an HTML form POST upload's fields say and allow, decided without IO.

A form signed for `/v1/<account>/<container>[/<object prefix>]` carries, before its files,
the fields `redirect` (may be empty), `max_file_size`, `max_file_count`, `expires` (unix
time) and `signature`: an HMAC, under one of the account's or container's temporary URL
keys, of `<path>\\n<redirect>\\n<max_file_size>\\n<max_file_count>\\n<expires>`. Optional
`x_delete_at` / `x_delete_after` fields are passed on with every file. Each file becomes the
object `<object prefix><file name>`. The outcome goes back as a 303 to the redirect URL (with
`status` and `message` in its query) or, without one, as that status with the message.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

SIGNED_FIELDS = ("redirect", "max_file_size", "max_file_count", "expires", "signature")
OPTIONAL_FIELDS = ("x_delete_at", "x_delete_after")
MAX_FIELD_BYTES = 4096
MAX_FIELDS = 32


class FormRefused(Exception):
    """The form may not upload: `status` (400/401) and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FormTerms:
    redirect: str
    max_file_size: int
    max_file_count: int
    expires: int
    signature: str
    delete_headers: dict


def _whole_number(fields: dict, name: str) -> int:
    text = fields.get(name, "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise FormRefused(400, f"FormPost: invalid or missing {name}")
    return int(text)


def terms_of(fields: dict[str, str], now: float) -> FormTerms:
    """The form's terms from its fields; FormRefused when missing, malformed or expired."""
    if "signature" not in fields or not fields["signature"]:
        raise FormRefused(401, "FormPost: Invalid Signature")
    expires = _whole_number(fields, "expires")
    if expires < now:
        raise FormRefused(401, "FormPost: Form Expired")
    size = _whole_number(fields, "max_file_size")
    count = _whole_number(fields, "max_file_count")
    delete_headers = {}
    for name in OPTIONAL_FIELDS:
        if name in fields:
            delete_headers["X-Delete-" + name[9:].capitalize()] = str(_whole_number(fields, name))
    return FormTerms(fields.get("redirect", ""), size, count, expires, fields["signature"],
                     delete_headers)


def signed_message(path: str, fields: dict[str, str]) -> bytes:
    """The bytes the form's signature is over, from the fields as sent."""
    return "\n".join([path] + [fields.get(name, "") for name in SIGNED_FIELDS[:4]]).encode()


def object_name(prefix: str | None, filename: str) -> str:
    """The object a file becomes: the signed prefix plus the file's base name."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return (prefix or "") + base


def redirect_location(redirect: str, status: int, message: str) -> str:
    joiner = "&" if "?" in redirect else "?"
    return f"{redirect}{joiner}status={status}&message={quote(message, safe='')}"
