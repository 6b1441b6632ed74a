"""What the container and account servers share: config, dispatch, devices, metadata, listings.

`DBServerApp` is a WSGI app over one node's `devices` root. It reads its ini section (the
subclass's `section` and `options`) plus `[server] conf_dir` (brume.conf for the path hash),
keeps one `ConnectionCache` of open databases, and dispatches on the HTTP method through the
`handlers` table (`{"PUT": callable(req) -> Response, ...}`), so another verb such as the
replicators' `REPLICATE` is one more entry. Every request must first be signed with the
cluster's backend secret (`common.backend_auth`; 401 otherwise). Handlers abort with
`common.http_errors.HTTPError`, answered as one line of text (`error_middleware` with
`render_plain`); a bug is left to the runner's `common.last_resort` (a logged 500).

Metadata headers are stored as `{Header-Name: [value, timestamp]}` (see storage.databases.broker);
an empty value removes a key. Listings are rendered through storage.databases.listing_format.
"""
from __future__ import annotations

import email.utils
import math
import os

from webob import Request, Response

from common.backend_auth import load_backend_auth, refuse_dev_cluster_secrets
from common.config import (
    ConfigError,
    Option,
    load_section,
    parse_bool,
    read_ini,
    server_bind_ip,
)
from common.constraints import (
    MAX_META_COUNT,
    MAX_META_NAME_LENGTH,
    MAX_META_OVERALL_SIZE,
    MAX_META_VALUE_LENGTH,
    META_PREFIXES,
    check_metadata,
)
from common.http_errors import HTTPError, error_middleware, render_plain
from common.timestamp import Timestamp
from ring.hashing import load_hasher
from storage.backend_common import require_signed
from storage.databases.broker import ConnectionCache, DatabaseNotFound, db_path, visible_metadata
from storage.databases.listing import ListingError, parse_listing_params
from storage.databases.listing_format import PLAIN_TYPE, choose_content_type
from storage.replication.db_protocol import install as install_replication

COMMON_OPTIONS = [
    Option("devices", str, "/srv/node", help="root directory holding one directory per device"),
    Option("mount_check", parse_bool, False, help="require each device to be a mount point"),
    Option("db_cache_size", int, 128, help="open database connections kept per process"),
]

# Headers other than X-<Kind>-Meta-* that are stored as metadata, per kind.
EXTRA_METADATA = {
    "container": ("x-container-read", "x-container-write", "x-container-sync-key",
                  "x-container-sync-to"),
    "account": (),
}
SYSMETA_PREFIXES = {"container": "x-container-sysmeta-", "account": "x-account-sysmeta-"}
MAX_ACL_LENGTH = 4096


def header_key(name: str) -> str:
    """Canonical spelling of a header name: X-Container-Meta-Color."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


class DBServerApp:
    """Base WSGI app of the container and account servers."""

    section = ""
    options: list[Option] = []
    kind = ""  # 'container' or 'account'
    db_dir_name = ""  # 'containers' or 'accounts'
    broker_class = None

    def __init__(self, conf_path: str):
        parser = read_ini(conf_path)
        self.conf = load_section(parser, self.section, COMMON_OPTIONS + self.options, conf_path)
        conf_dir = parser.get("server", "conf_dir", fallback="").strip()
        self.conf_dir = conf_dir or os.path.dirname(os.path.abspath(conf_path))
        refuse_dev_cluster_secrets(server_bind_ip(parser), self.conf_dir, f"{conf_path}: ")
        self.hasher = load_hasher(self.conf_dir)
        self.backend_auth = load_backend_auth(self.conf_dir)
        self.devices = self.conf["devices"]
        self.mount_check = self.conf["mount_check"]
        if self.conf["db_cache_size"] < 1:
            raise ConfigError(f"{conf_path}: [{self.section}] db_cache_size must be >= 1")
        self.connections = ConnectionCache(self.conf["db_cache_size"])
        self.handlers = {}
        install_replication(self)  # REPLICATE, served for the container/account replicators
        self._wsgi = error_middleware(self._serve, render_plain)

    # ---- WSGI ------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _serve(self, environ, start_response):
        require_signed(self.backend_auth, environ)
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, req: Request) -> Response:
        handler = self.handlers.get(req.method)
        if handler is None:
            allowed = ", ".join(sorted(self.handlers))
            raise HTTPError(405, f"method {req.method} not allowed", {"Allow": allowed})
        try:
            return handler(req)
        except DatabaseNotFound:  # removed (quarantined, moved) while the request ran
            raise HTTPError(404, f"{self.kind} not found") from None

    # ---- devices and databases -------------------------------------------------------

    def device_ok(self, device: str) -> bool:
        path = os.path.join(self.devices, device)
        if self.mount_check:
            return os.path.ismount(path)
        return os.path.isdir(path)

    def check_device(self, device: str) -> None:
        if not self.device_ok(device):
            raise HTTPError(507, f"device {device} is not available")

    def db_path_for_hash(self, device: str, partition, path_hash: str) -> str:
        return db_path(self.devices, device, self.db_dir_name, partition, path_hash)

    def broker_at(self, path: str):
        """A broker (existing or not yet) for the database file at `path`."""
        return self.broker_class(path, self.connections)

    # ---- metadata --------------------------------------------------------------------

    def metadata_updates(self, req: Request, timestamp: str) -> dict:
        """{Header-Name: (value, timestamp)} of the request's metadata headers (400 if bad).

        Values are stored as text: WSGI hands header bytes over as latin-1, so they are
        re-decoded as UTF-8 here (and encoded back by `metadata_headers`).
        """
        prefix = META_PREFIXES[self.kind]
        sysmeta = SYSMETA_PREFIXES[self.kind]
        extra = EXTRA_METADATA[self.kind]
        updates = {}
        for name, value in req.headers.items():
            lowered = name.lower()
            if lowered.startswith(prefix) or lowered.startswith(sysmeta) or lowered in extra:
                try:
                    text = value.encode("latin-1").decode("utf-8").strip()
                except (UnicodeEncodeError, UnicodeDecodeError):
                    raise HTTPError(400, f"{header_key(name)} is not valid UTF-8") from None
                if lowered in extra and _byte_len(text) > MAX_ACL_LENGTH:
                    raise HTTPError(400, f"{header_key(name)} longer than {MAX_ACL_LENGTH}")
                updates[header_key(name)] = (text, timestamp)
        reason = check_metadata({key: value for key, (value, _) in updates.items()}, self.kind)
        if reason:
            raise HTTPError(400, reason)
        return updates

    def validate_merged(self, merged: dict) -> str | None:
        """Limits on the user metadata as it would be stored after a merge."""
        prefix = META_PREFIXES[self.kind]
        count = 0
        total = 0
        for key, (value, _) in merged.items():
            if not value or not key.lower().startswith(prefix):
                continue
            name = key[len(prefix) :]
            count += 1
            total += _byte_len(name) + _byte_len(value)
            if _byte_len(name) > MAX_META_NAME_LENGTH or _byte_len(value) > MAX_META_VALUE_LENGTH:
                return f"metadata item too long: {name[:40]}"
        if count > MAX_META_COUNT:
            return f"too many metadata items; max {MAX_META_COUNT}"
        if total > MAX_META_OVERALL_SIZE:
            return f"total metadata too large; max {MAX_META_OVERALL_SIZE}"
        return None

    # ---- listings --------------------------------------------------------------------

    @staticmethod
    def head_content_type(req: Request) -> str:
        """A HEAD is typed as the GET's listing would be (plain when nothing fits)."""
        try:
            format_param = req.GET.get("format")
        except UnicodeDecodeError:  # a HEAD has no listing to refuse: answer it plain
            return PLAIN_TYPE
        return choose_content_type(format_param, req.headers.get("Accept")) or PLAIN_TYPE

    def listing_request(self, req: Request, max_limit: int):
        """(ListingParams, content type) of a GET, or HTTPError 400/406/412."""
        try:
            params = parse_listing_params(req.GET, max_limit)
        except ListingError as exc:
            raise HTTPError(exc.status, exc.reason) from None
        except UnicodeDecodeError:
            raise HTTPError(400, "query string is not valid UTF-8") from None
        content_type = choose_content_type(req.GET.get("format"), req.headers.get("Accept"))
        if content_type is None:
            raise HTTPError(406, "no acceptable listing format")
        return params, content_type


def metadata_headers(metadata: dict) -> dict[str, str]:
    """Stored metadata as WSGI header values (UTF-8 bytes carried in latin-1 strings)."""
    return {
        key: value.encode("utf-8").decode("latin-1")
        for key, value in visible_metadata(metadata).items()
    }


def backend_headers(info: dict) -> dict:
    """Timestamps of a database, also sent on the 404 of a deleted one."""
    return {
        "X-Backend-Timestamp": info["created_at"],
        "X-Backend-Put-Timestamp": info["put_timestamp"],
        "X-Backend-Delete-Timestamp": info["delete_timestamp"],
        "X-Backend-Status-Changed-At": info["status_changed_at"],
    }


def last_modified_header(info: dict) -> str:
    """`Last-Modified` of a database: its newest PUT or metadata change (a POST), rounded up
    to the second as HTTP dates are; object rows do not count."""
    newest = info["put_timestamp"]
    for _value, timestamp in info["metadata"].values():
        newest = max(newest, timestamp)
    return email.utils.formatdate(math.ceil(Timestamp(newest).seconds), usegmt=True)


def listing_response(req: Request, body: bytes, content_type: str, headers: dict) -> Response:
    """200 with the rendered listing; 204 for an empty plain-text listing (as Swift)."""
    if not body:
        resp = Response(status=204)
    else:
        resp = Response(status=200, body=body)
    resp.content_type = content_type
    resp.charset = "utf-8"
    for key, value in headers.items():
        resp.headers[key] = value
    if "format" not in req.GET:
        resp.headers["Vary"] = "Accept"
    return resp


# The largest number a database row holds (SQLite's 64-bit INTEGER).
SQLITE_INTEGER_MAX = 2**63 - 1


def parse_int_header(req: Request, name: str, default: int | None = None) -> int:
    value = req.headers.get(name)
    if value is None or value.strip() == "":
        if default is None:
            raise HTTPError(400, f"missing {name}")
        return default
    try:
        number = int(value)
    except ValueError:  # not a number, or one of thousands of digits
        raise HTTPError(400, f"invalid {name}: {value[:40]!r}") from None
    if number < 0:
        raise HTTPError(400, f"invalid {name}: negative")
    if number > SQLITE_INTEGER_MAX:
        raise HTTPError(400, f"invalid {name}: larger than {SQLITE_INTEGER_MAX}")
    return number
