"""Signed backend requests: the cluster secret every storage server asks of its callers.

Storage servers (object, container, account) do not trust their network: every request they
serve, except `GET /healthcheck`, must carry

    X-Backend-Auth: <unix time, 3 decimals> <hex HMAC-SHA256>

signed with `[cluster] backend_secret` of `<conf_dir>/brume.conf` (the same value on every
node and proxy). The HMAC covers, one per line: the method, the path as the server sees it
(UTF-8 bytes after percent-decoding), the raw query string, the signing time, and the values
of `SIGNED_HEADERS` (empty when absent) — the headers that decide what a request does to
stored state (timestamps, expiry, replication op, which container/account replicas to tell).
Bodies are not hashed: that would cost a pass over every byte of every object, and an
attacker able to change bodies in flight is on the path, which the signature cannot fix
anyway (use a private network or TLS for that). A signature is accepted within
`backend_auth_window` seconds (default 60) of its time, either way, so clocks must agree to
well within that. Within the window a captured request could be sent again; every backend
write carries its own `X-Timestamp`, so a repeat is the same write again (201 for the same
bytes, 409 or "already present" otherwise), never a new one.

Senders: the proxy (`proxy.backend_client`), the daemons and the container server's account
reports (`storage.backend_client`, raising `common.http_client.HTTPClientError`), both over
`common.backend_http` (signing through `BackendAuth.sign`), the object
server's container updates (`storage.objects.container_updates`) and `brume
status` (recon). Receivers: `storage.backend_common.require_signed`, called by each server
before it dispatches. One HMAC per request.
"""
from __future__ import annotations

import hmac
import os
import re
import time
from collections.abc import Mapping
from urllib.parse import unquote

from common.cluster_conf import CLUSTER_CONF_NAME, CLUSTER_OPTIONS
from common.config import (
    Option,
    is_loopback,
    load_config_file,
    positive_float,
    refuse_dev_defaults,
    secrets_in_force,
)

AUTH_HEADER = "X-Backend-Auth"
AUTH_ENVIRON = "HTTP_X_BACKEND_AUTH"
SIGNED_HEADERS = (
    "X-Timestamp",
    "X-Put-Timestamp",
    "X-Delete-Timestamp",
    "X-Delete-At",
    "X-If-Delete-At",
    "X-Backend-Replicate-Op",
    "X-Container-Host",
    "X-Container-Device",
    "X-Container-Partition",
    "X-Account-Host",
    "X-Account-Device",
    "X-Account-Partition",
)
_LOWER_NAMES = tuple(name.lower() for name in SIGNED_HEADERS)
_SIGNED_LOWER = frozenset(_LOWER_NAMES)
_ENVIRON_KEYS = tuple("HTTP_" + name.upper().replace("-", "_") for name in SIGNED_HEADERS)
_STAMP_RE = re.compile(r"[0-9]{1,12}\.[0-9]{3}", re.ASCII)

DEV_BACKEND_SECRET = "brume-dev-backend-secret"
DEFAULT_WINDOW = 60.0

BACKEND_AUTH_OPTIONS = [
    Option("backend_secret", str, DEV_BACKEND_SECRET, secret=True,
           help="HMAC secret signing every request to a storage server"),
    Option("backend_auth_window", positive_float, DEFAULT_WINDOW,
           help="seconds a backend signature stays valid (either way: clock skew)"),
]


class BackendAuth:
    """Signs backend requests and checks their signatures with the cluster's secret."""

    __slots__ = ("_key", "window")

    def __init__(self, secret: str, window: float = DEFAULT_WINDOW):
        if not secret:
            raise ValueError("the backend secret must not be empty")
        self._key = secret.encode("utf-8")
        self.window = window

    def _digest(self, method: bytes, path: bytes, query: bytes, stamp: bytes,
                values: list[bytes]) -> bytes:
        message = b"\n".join((method, path, query, stamp, *values))
        return hmac.digest(self._key, message, "sha256").hex().encode("ascii")

    def sign(self, method: str, path: str, headers: Mapping[str, object], query: str = "",
             now: float | None = None) -> str:
        """The `X-Backend-Auth` value for a request (`path` unquoted, `query` raw)."""
        signed = {}
        for name, value in headers.items():
            lowered = str(name).lower()
            if lowered in _SIGNED_LOWER:
                signed[lowered] = value
        values = [str(signed[name]).strip().encode("latin-1", "replace") if name in signed
                  else b"" for name in _LOWER_NAMES]
        stamp = b"%.3f" % (time.time() if now is None else now)
        digest = self._digest(method.encode("ascii", "replace"),
                              path.encode("utf-8", "surrogateescape"),
                              query.encode("latin-1", "replace"), stamp, values)
        return (stamp + b" " + digest).decode("ascii")

    def signed(self, method: str, path: str, headers: Mapping[str, object] | None = None,
               query: str = "", now: float | None = None) -> dict[str, str]:
        """A copy of `headers` with the signature added."""
        result = {str(k): str(v) for k, v in (headers or {}).items()}
        result[AUTH_HEADER] = self.sign(method, path, result, query, now)
        return result

    def sign_target(self, method: str, target: str, headers: Mapping[str, object],
                    body: bytes | None = None) -> dict[str, str]:
        """`signed` for a request line's `target` (quoted path, `?query`): the signing hook
        of `common.http_client.HTTPClient` (the body is not signed)."""
        path, _, query = target.partition("?")
        return self.signed(method, unquote(path, errors="surrogateescape"), headers, query)

    def refusal(self, environ: Mapping[str, str], now: float | None = None) -> str:
        """'' when the WSGI request is signed and fresh, else why not (one line)."""
        given = environ.get(AUTH_ENVIRON)
        if not given:
            return f"missing {AUTH_HEADER}"
        stamp, _, signature = given.strip().partition(" ")
        if not _STAMP_RE.fullmatch(stamp) or not signature:
            return f"malformed {AUTH_HEADER}"
        current = time.time() if now is None else now
        if abs(current - float(stamp)) > self.window:
            return f"{AUTH_HEADER} outside the {self.window:g} s window (clock skew or replay)"
        values = [environ[key].strip().encode("latin-1", "replace") if key in environ else b""
                  for key in _ENVIRON_KEYS]
        expected = self._digest(
            environ.get("REQUEST_METHOD", "").encode("latin-1", "replace"),
            environ.get("PATH_INFO", "").encode("latin-1", "replace"),
            environ.get("QUERY_STRING", "").encode("latin-1", "replace"),
            stamp.encode("ascii"), values,
        )
        if not hmac.compare_digest(expected, signature.encode("latin-1", "replace")):
            return f"bad {AUTH_HEADER} signature"
        return ""


def cluster_conf_path(conf_dir: str) -> str:
    return os.path.join(conf_dir, CLUSTER_CONF_NAME)


def load_backend_auth(conf_dir: str) -> BackendAuth:
    """The cluster's BackendAuth from `<conf_dir>/brume.conf` (dev default when unset)."""
    values = load_config_file(cluster_conf_path(conf_dir), "cluster", BACKEND_AUTH_OPTIONS,
                              allow_unknown=True)
    return BackendAuth(values["backend_secret"], values["backend_auth_window"])


def cluster_secrets(conf_dir: str) -> dict[str, str]:
    """The secrets of `<conf_dir>/brume.conf` in force (hash salts, backend secret)."""
    path = cluster_conf_path(conf_dir)
    options = CLUSTER_OPTIONS + BACKEND_AUTH_OPTIONS
    values = load_config_file(path, "cluster", options, allow_unknown=True)
    return secrets_in_force("cluster", options, values, where=f" in {path}")


def refuse_dev_cluster_secrets(bind_ip: str, conf_dir: str, where: str = "",
                               action: str = "bind") -> None:
    """ConfigError when `bind_ip` is off loopback and brume.conf's secrets in force include a
    development default (brume.conf is only read off loopback)."""
    if not is_loopback(bind_ip):
        refuse_dev_defaults(bind_ip, cluster_secrets(conf_dir), where, action)
