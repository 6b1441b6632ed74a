"""The proxy's WSGI application: config once at start, then route every request.

    [server] app = proxy.server:make_app

Routes: `/info`, `/auth/v1.0` (and `/auth/v1.0/`, `/auth/v1`), and
`/v1/<account>[/<container>[/<object>]]`, which is authenticated (token in `X-Auth-Token`
or `X-Storage-Token`; none means anonymous), name-checked, authorized (container ACLs are
fetched only when the requester does not own the account) and handed to the account,
container or object controller. Internal sub-requests (large objects, COPY) call `handle`
with the caller's identity already set in the environ (`brume.identity`).
"""
from __future__ import annotations

import logging
import time

from webob import Request

from common import constraints
from common.backend_auth import load_backend_auth
from common.tokens import verify_token
from proxy import account_controller, container_controller, info, object_controller
from proxy.auth import Authorizer, handle_auth
from proxy.backend_client import BackendClient
from proxy.info_cache import InfoCache
from proxy.responses import error
from proxy.segments import MANIFEST_CHAIN_KEY
from proxy.settings import ProxySettings, load_settings
from proxy.transaction import TRANS_ID, new_trans_id

LOG = logging.getLogger("brume.proxy")

IDENTITY_KEY = "brume.identity"
INTERNAL_KEY = "brume.internal"
TRANS_ID_KEY = "brume.trans_id"
AUTH_PATHS = frozenset({"/auth/v1.0", "/auth/v1.0/", "/auth/v1", "/auth/v1/"})
VERSIONS = frozenset({"v1", "v1.0"})
_UNSET = object()
TOKEN_CACHE_SIZE = 10000


class Target:
    """The account/container/object a request addresses (names already decoded)."""

    __slots__ = ("account", "container", "obj")

    def __init__(self, account: str, container: str | None, obj: str | None):
        self.account = account
        self.container = container
        self.obj = obj

    @property
    def path(self) -> str:
        parts = [self.account]
        if self.container is not None:
            parts.append(self.container)
            if self.obj is not None:
                parts.append(self.obj)
        return "/" + "/".join(parts)


def parse_target(path_info: str) -> tuple[str | None, Target | None, str]:
    """-> (version, target, reason). reason is '' when fine."""
    try:
        path = path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None, None, "path is not valid UTF-8"
    if "\x00" in path:
        return None, None, "path contains a NUL byte"
    pieces = path.split("/", 4)
    if len(pieces) < 3 or pieces[0] != "" or pieces[1] not in VERSIONS or not pieces[2]:
        return None, None, ""
    account = pieces[2]
    container = pieces[3] if len(pieces) > 3 and pieces[3] else None
    obj = pieces[4] if len(pieces) > 4 and pieces[4] else None
    if container is None and obj is not None:
        return None, None, ""
    return pieces[1], Target(account, container, obj), ""


class ProxyApp:
    """Shared state (rings, backend client, caches, auth) and the request router."""

    def __init__(self, settings: ProxySettings, rings: dict | None = None):
        self.settings = settings
        proxy = settings.proxy
        auth = settings.auth
        if rings is None:
            from ring.ring import Ring

            rings = {name: Ring(settings.conf_dir, name)
                     for name in ("account", "container", "object")}
        self.account_ring = rings["account"]
        self.container_ring = rings["container"]
        self.object_ring = rings["object"]
        self.client = BackendClient(
            proxy["conn_timeout"],
            proxy["node_timeout"],
            proxy["error_suppression_limit"],
            proxy["error_suppression_interval"],
            proxy["max_idle_connections"],
            auth=load_backend_auth(settings.conf_dir),
        )
        self.info_cache = InfoCache(
            self.client,
            self.account_ring,
            self.container_ring,
            proxy["recheck_account_existence"],
            proxy["recheck_container_existence"],
        )
        self.reseller_prefix = auth["reseller_prefix"]
        self.token_secret = auth["token_secret"]
        self.authorizer = Authorizer(self.reseller_prefix)
        self.chunk_size = proxy["object_chunk_size"]
        self.put_queue_depth = proxy["put_queue_depth"]
        self.account_autocreate = proxy["account_autocreate"]
        self.max_manifest_segments = proxy["max_manifest_segments"]
        self.max_manifest_size = proxy["max_manifest_size"]
        self.info_body = info.build_info(self)
        self._tokens: dict = {}

    def __call__(self, environ, start_response):
        trans_id = new_trans_id()
        TRANS_ID.set(trans_id)
        environ[TRANS_ID_KEY] = trans_id

        def start_with_trans_id(status, headers, exc_info=None):
            headers = [*headers, ("X-Trans-Id", trans_id), ("X-Openstack-Request-Id", trans_id)]
            return start_response(status, headers, exc_info)

        try:
            response = self.handle(environ)
        except Exception:
            LOG.exception("unexpected error on %s %s (%s)", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"), trans_id)
            response = error(500, "internal error")
        return response(environ, start_with_trans_id)

    def handle(self, environ):
        path = environ.get("PATH_INFO", "")
        if path in AUTH_PATHS:
            settings = self.settings
            return handle_auth(Request(environ), settings.users, self.token_secret,
                               settings.auth["token_life"], self.reseller_prefix,
                               settings.proxy["public_url"])
        if path == "/info" or path == "/info/":
            return info.handle_info(self, environ)
        version, target, reason = parse_target(path)
        if reason:
            return error(412, reason)
        if target is None:
            return error(404, "not found")
        identity = environ.get(IDENTITY_KEY, _UNSET)
        if identity is _UNSET:
            token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
            if token:
                identity = self.check_token(token)
                if identity is None:
                    return error(401, "invalid or expired token")
            else:
                identity = None
            environ[IDENTITY_KEY] = identity
        reason = self._check_names(target)
        if reason:
            return error(400, reason)
        method = environ["REQUEST_METHOD"]
        denial = self._authorize(environ, identity, method, target)
        if denial is not None:
            return error(denial, "unauthorized" if denial == 401 else "forbidden")
        req = Request(environ)
        if target.obj is not None:
            return object_controller.handle(self, req, target)
        if target.container is not None:
            return container_controller.handle(self, req, target)
        return account_controller.handle(self, req, target)

    def check_token(self, token: str):
        """verify_token, remembering tokens already verified until they expire."""
        cached = self._tokens.get(token)
        if cached is not None:
            if cached.expires > time.time():
                return cached
            del self._tokens[token]
        identity = verify_token(token, self.token_secret)
        if identity is not None:
            if len(self._tokens) >= TOKEN_CACHE_SIZE:
                self._tokens.clear()
            self._tokens[token] = identity
        return identity

    @staticmethod
    def _check_names(target: Target) -> str | None:
        reason = constraints.check_account_name(target.account)
        if reason is None and target.container is not None:
            reason = constraints.check_container_name(target.container)
        if reason is None and target.obj is not None:
            reason = constraints.check_object_name(target.obj)
        return reason

    def _authorize(self, environ, identity, method: str, target: Target) -> int | None:
        authorizer = self.authorizer
        if method == "OPTIONS":
            return None
        # COPY reads here; its destination PUT is authorized again as a sub-request.
        check_method = "GET" if method == "COPY" else method
        if not authorizer.needs_acl(identity, check_method, target.account, target.container,
                                    target.obj):
            return authorizer.authorize(identity, check_method, target.account,
                                        target.container, target.obj)
        container_info = self.info_cache.container(target.account, target.container)
        if not container_info.exists:
            return authorizer.deny(identity)
        return authorizer.authorize(
            identity,
            check_method,
            target.account,
            target.container,
            target.obj,
            container_info.read_acl,
            container_info.write_acl,
            environ.get("HTTP_REFERER"),
        )

    def is_owner(self, environ, account: str) -> bool:
        return self.authorizer.is_owner(environ.get(IDENTITY_KEY), account)

    def subrequest(self, parent_environ, method: str, path: str, headers: dict | None = None,
                   query: str = "", body_input=None, content_length: int | None = None,
                   internal: bool = False):
        """Run a request through `handle` as the same user (for large objects and COPY).

        The chain of large-object manifests being expanded is carried over, so nested
        expansions stay bounded (`proxy.segments.enter_manifest`).
        """
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path.encode("utf-8", "surrogateescape").decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": parent_environ.get("SERVER_NAME", "localhost"),
            "SERVER_PORT": parent_environ.get("SERVER_PORT", "80"),
            "HTTP_HOST": parent_environ.get("HTTP_HOST", "localhost"),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": parent_environ.get("wsgi.url_scheme", "http"),
            "wsgi.input": body_input if body_input is not None else _EmptyInput(),
            "wsgi.errors": parent_environ.get("wsgi.errors"),
            IDENTITY_KEY: parent_environ.get(IDENTITY_KEY),
            INTERNAL_KEY: internal,
            MANIFEST_CHAIN_KEY: parent_environ.get(MANIFEST_CHAIN_KEY, ()),
        }
        if content_length is not None:
            environ["CONTENT_LENGTH"] = str(content_length)
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key == "CONTENT_LENGTH":
                environ["CONTENT_LENGTH"] = value
            else:
                environ["HTTP_" + key] = value
        return self.handle(environ)


class _EmptyInput:
    def read(self, size: int = -1) -> bytes:
        return b""


def make_app(conf_path: str, rings: dict | None = None) -> ProxyApp:
    """Build the proxy from its config file (raises common.config.ConfigError)."""
    return ProxyApp(load_settings(conf_path), rings)
