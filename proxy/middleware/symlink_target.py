"""What a symlink is: its client headers, its stored sysmeta and its listing entry. No IO.

A client creates a link with a zero-byte PUT carrying `X-Symlink-Target: <container>/<object>`
(URL-quoted or not), optionally `X-Symlink-Target-Account` (another account), and, for a
static link, `X-Symlink-Target-Etag` (and `X-Symlink-Target-Bytes`). `parse_link_request`
checks them and returns a `Link` or a `LinkRefusal` (status and one-line reason).

The link is stored as an empty object whose sysmeta (`SYSMETA_*`) names the target, plus
`OVERRIDE_ETAG`: the object server reports that value as the object's `hash` to
the container, `<md5 of empty>; symlink_target=...; ...`, and `listing_entry` turns such an
entry back into Swift's listing fields (`symlink_path`, `symlink_etag`, `symlink_bytes`).
"""
from __future__ import annotations

from urllib.parse import quote, unquote

from common import constraints
from common.decimal_text import BEYOND_ANY_LENGTH, capped_decimal
from proxy.object_headers import OVERRIDE_ETAG

TARGET_HEADER = "x-symlink-target"
ACCOUNT_HEADER = "x-symlink-target-account"
ETAG_HEADER = "x-symlink-target-etag"
BYTES_HEADER = "x-symlink-target-bytes"
CLIENT_HEADERS = (TARGET_HEADER, ACCOUNT_HEADER, ETAG_HEADER, BYTES_HEADER)

SYSMETA_TARGET = "x-object-sysmeta-symlink-target"
SYSMETA_ACCOUNT = "x-object-sysmeta-symlink-target-account"
SYSMETA_ETAG = "x-object-sysmeta-symlink-target-etag"
SYSMETA_BYTES = "x-object-sysmeta-symlink-target-bytes"
SYSMETA_SLO_ETAG = "x-object-sysmeta-symlink-target-slo-etag"
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"

# client header -> sysmeta, for turning a stored link back into what its owner set
SYSMETA_TO_CLIENT = {SYSMETA_TARGET: "X-Symlink-Target", SYSMETA_ACCOUNT:
                     "X-Symlink-Target-Account", SYSMETA_ETAG: "X-Symlink-Target-Etag",
                     SYSMETA_BYTES: "X-Symlink-Target-Bytes"}

BAD_FORM = "X-Symlink-Target header must be of the form <container name>/<object name>"


class LinkRefusal(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Link:
    """Where a link points (names decoded); `etag`/`size` are set for a static link."""

    __slots__ = ("account", "container", "obj", "etag", "size")

    def __init__(self, account: str, container: str, obj: str, etag: str | None = None,
                 size: int | None = None):
        self.account = account
        self.container = container
        self.obj = obj
        self.etag = etag
        self.size = size

    @property
    def quoted_target(self) -> str:
        """`<container>/<object>` URL-quoted, as stored and shown in X-Symlink-Target."""
        return f"{quote(self.container)}/{quote(self.obj)}"

    @property
    def path(self) -> str:
        """The target's `/v1/<account>/<container>/<object>`, URL-quoted (Content-Location)."""
        return f"/v1/{quote(self.account)}/{self.quoted_target}"

    @property
    def raw_path(self) -> str:
        """The target's path as PATH_INFO would carry it (decoded names)."""
        return f"/v1/{self.account}/{self.container}/{self.obj}"


def clean_etag(value: str) -> str:
    return value.strip().strip('"')


def _wsgi_text(value: str) -> str:
    """A header value as text: WSGI hands its bytes over as latin-1 (UTF-8 names)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise LinkRefusal(412, BAD_FORM) from None


def parse_link_request(headers: dict, account: str, container: str, obj: str) -> Link:
    """The link a PUT (lower-case `headers`) to `/account/container/obj` asks for.

    Raises LinkRefusal (400/412) for a malformed target or a link to itself.
    """
    target = unquote(_wsgi_text(headers.get(TARGET_HEADER, ""))).lstrip("/")
    tgt_container, sep, tgt_obj = target.partition("/")
    if not sep or not tgt_container or not tgt_obj:
        raise LinkRefusal(412, BAD_FORM)
    if constraints.check_container_name(tgt_container) or \
            constraints.check_object_name(tgt_obj):
        raise LinkRefusal(412, BAD_FORM)
    tgt_account = account
    if ACCOUNT_HEADER in headers:
        tgt_account = unquote(_wsgi_text(headers[ACCOUNT_HEADER])).strip()
        if "/" in tgt_account or constraints.check_account_name(tgt_account):
            raise LinkRefusal(412, "X-Symlink-Target-Account must be an account name")
    if (tgt_account, tgt_container, tgt_obj) == (account, container, obj):
        raise LinkRefusal(400, "Symlink cannot target itself")
    etag = None
    size = None
    if ETAG_HEADER in headers:
        etag = clean_etag(headers[ETAG_HEADER])
        if not etag or any(ch in etag for ch in ';"\\,'):
            raise LinkRefusal(400, "X-Symlink-Target-Etag must be an ETag")
    if BYTES_HEADER in headers:
        if etag is None:
            raise LinkRefusal(400, "X-Symlink-Target-Bytes requires X-Symlink-Target-Etag")
        value = headers[BYTES_HEADER].strip()
        size = capped_decimal(value, BEYOND_ANY_LENGTH)
        if size is None or size == BEYOND_ANY_LENGTH:
            raise LinkRefusal(400, "X-Symlink-Target-Bytes must be a non-negative integer")
    return Link(tgt_account, tgt_container, tgt_obj, etag, size)


def stored_link(headers, own_account: str) -> Link | None:
    """The link an object's answer describes (sysmeta in `headers`), or None."""
    found = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith("x-object-sysmeta-symlink-"):
            found[lowered] = value
    target = found.get(SYSMETA_TARGET)
    if not target:
        return None
    container, _, obj = target.partition("/")
    account = unquote(found.get(SYSMETA_ACCOUNT) or quote(own_account))
    size_text = found.get(SYSMETA_BYTES)
    return Link(account, unquote(container), unquote(obj), found.get(SYSMETA_ETAG),
                int(size_text) if size_text and size_text.isdigit() else None)


def link_sysmeta(link: Link, explicit_account: bool, slo_etag: str | None = None) -> dict:
    """The sysmeta headers stored on a link object (and its container listing `hash`)."""
    stored = {SYSMETA_TARGET: link.quoted_target}
    params = [f"symlink_target={quote(link.path)}"]
    if explicit_account:
        stored[SYSMETA_ACCOUNT] = quote(link.account)
    if link.etag is not None:
        stored[SYSMETA_ETAG] = link.etag
        params.append(f"symlink_target_etag={quote(link.etag)}")
        if link.size is not None:
            stored[SYSMETA_BYTES] = str(link.size)
            params.append(f"symlink_target_bytes={link.size}")
        if slo_etag:
            stored[SYSMETA_SLO_ETAG] = slo_etag
            params.append(f"slo_etag={quote(slo_etag)}")
    stored[OVERRIDE_ETAG] = "; ".join([EMPTY_ETAG] + params)
    return stored


def client_link_headers(link: Link, explicit_account: bool) -> list[tuple[str, str]]:
    """What `?symlink=get` shows of a link: X-Symlink-Target[-Account|-Etag|-Bytes]."""
    out = [("X-Symlink-Target", link.quoted_target)]
    if explicit_account:
        out.append(("X-Symlink-Target-Account", quote(link.account)))
    if link.etag is not None:
        out.append(("X-Symlink-Target-Etag", link.etag))
        if link.size is not None:
            out.append(("X-Symlink-Target-Bytes", str(link.size)))
    return out


def listing_entry(entry: dict) -> dict:
    """A container listing entry with a link's `hash` parameters as Swift's fields."""
    value = entry.get("hash")
    if not isinstance(value, str) or ";" not in value:
        return entry
    etag, *params = value.split(";")
    fields = {}
    for param in params:
        key, _, raw = param.strip().partition("=")
        fields[key] = unquote(raw)
    if "symlink_target" not in fields:
        return entry
    out = dict(entry)
    out["hash"] = etag.strip()
    out["symlink_path"] = fields["symlink_target"]
    if "symlink_target_etag" in fields:
        out["symlink_etag"] = fields["symlink_target_etag"]
        if fields.get("symlink_target_bytes", "").isdigit():
            out["symlink_bytes"] = int(fields["symlink_target_bytes"])
    if "slo_etag" in fields:
        out["slo_etag"] = f'"{fields["slo_etag"]}"'
    return out
