"""`tempurl`: temporary URLs, object access signed with a secret key instead of a token.

    [filter:tempurl]
    use = egg:brume#tempurl
    # methods = GET HEAD PUT POST DELETE
    # allowed_digests = sha1 sha256 sha512

Sits above `auth`. A request whose query has `temp_url_sig` or `temp_url_expires` is a
temporary URL's and is decided here: the signature (`proxy.hmac_signatures`) must be an
HMAC, under one of the account's or the container's keys (`proxy.signing_keys`), of the
request's method, expiry and object path or prefix (`proxy.tempurl_rules`); a HEAD may use a
GET or PUT signature. Anything wrong (malformed, expired, another object, another method, a
client outside `temp_url_ip_range`) is a 401 with Swift's body. A valid one is let through as
an anonymous caller with its own authorize callback and `brume.authorize_override`, so the
auth filter leaves it alone and the proxy app asks that callback:

- the signed object (or any object under the signed prefix) with the request's method;
- when the request reads (GET/HEAD), reads by the large-object middleware of segments and
  listings in the key's scope (the whole account for an account key, the container for a
  container key) — manifests only their owners could write;
- a URL signed for a whole container (`temp_url_prefix=` empty) may also read the container
  path itself, which only staticweb answers for an anonymous request (index or listing);
- nothing else: no other object, container or account, no write beside the signed one.

Writes may not make manifests, symlinks or copies (`X-Object-Manifest`, `X-Symlink-Target`,
`X-Copy-From`: 400). Headers matching `incoming_remove_headers` (unless also matching
`incoming_allow_headers`) are dropped from the request, and those matching
`outgoing_remove_headers` (unless `outgoing_allow_headers`) from the answer; a trailing `*`
matches any suffix. A GET's answer gets a Content-Disposition: `attachment` with the
object's name, `filename=` to name it, `inline` to show it.
"""
from __future__ import annotations

import time

from common.config import Option, load_options
from proxy.environ_keys import (
    AUTHORIZE_KEY,
    AUTHORIZE_OVERRIDE_KEY,
    IDENTITY_KEY,
    OWNER_KEY,
    TEMPURL_QUERY_KEY,
    WEB_READ_KEY,
)
from proxy.hmac_signatures import (
    DEFAULT_ALLOWED_DIGESTS,
    decode_signature,
    matching_key,
    parse_allowed_digests,
)
from proxy.responses import RawResponse, error
from proxy.signing_keys import CONTAINER_SCOPE, lookup_keys
from proxy.target import Target, parse_target
from proxy.tempurl_rules import (
    DEFAULT_METHODS,
    HeaderRules,
    Invalid,
    TempUrlQuery,
    client_in_range,
    disposition,
    has_temp_url_params,
    messages,
    parse_header_patterns,
    parse_query,
    signed_paths,
)

INVALID_BODY = b"401 Unauthorized: Temp URL invalid\n"
READ_METHODS = frozenset({"GET", "HEAD"})
# Request headers that would make a write reach beyond the signed object.
REACHING_HEADERS = {
    "HTTP_X_OBJECT_MANIFEST": "X-Object-Manifest",
    "HTTP_X_SYMLINK_TARGET": "X-Symlink-Target",
    "HTTP_X_SYMLINK_TARGET_ACCOUNT": "X-Symlink-Target-Account",
    "HTTP_X_COPY_FROM": "X-Copy-From",
    "HTTP_X_COPY_FROM_ACCOUNT": "X-Copy-From-Account",
}
TOKEN_KEYS = ("HTTP_X_AUTH_TOKEN", "HTTP_X_STORAGE_TOKEN")


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(text.upper().split()))
    unknown = [name for name in names if name not in DEFAULT_METHODS]
    if unknown:
        raise ValueError(f"unsupported method {unknown[0]!r} (supported: "
                         f"{' '.join(DEFAULT_METHODS)})")
    return names


OPTIONS = [
    Option("methods", _methods, DEFAULT_METHODS, "methods a temporary URL may be signed for"),
    Option("allowed_digests", parse_allowed_digests, DEFAULT_ALLOWED_DIGESTS,
           "HMAC digests accepted in signatures"),
    Option("incoming_remove_headers", parse_header_patterns,
           parse_header_patterns("x-timestamp x-open-expired"),
           "request headers dropped from temporary URL requests"),
    Option("incoming_allow_headers", parse_header_patterns, (),
           "exceptions to incoming_remove_headers"),
    Option("outgoing_remove_headers", parse_header_patterns,
           parse_header_patterns("x-object-meta-*"),
           "answer headers hidden from temporary URL users"),
    Option("outgoing_allow_headers", parse_header_patterns,
           parse_header_patterns("x-object-meta-public-*"),
           "exceptions to outgoing_remove_headers"),
]


def invalid_response() -> RawResponse:
    return RawResponse(401, [("Content-Type", "text/plain; charset=UTF-8"),
                             ("Content-Length", str(len(INVALID_BODY))),
                             ("Www-Authenticate", 'Temp URL realm="temporary URL"')],
                       [INVALID_BODY])


class Grant:
    """What one validated temporary URL allows (the authorize callback it installs)."""

    def __init__(self, method: str, target: Target, query: TempUrlQuery, scope: str):
        self.method = method
        self.target = target
        self.query = query
        self.prefix = query.prefix
        self.scope = scope
        self.for_container = target.obj is None  # signed for a whole container, used on it

    def covers(self, target: Target) -> bool:
        """Whether `target` is the signed object (or under the signed prefix)."""
        if (target.account, target.container) != (self.target.account, self.target.container):
            return False
        if target.obj is None:
            return False
        if self.prefix is None:
            return target.obj == self.target.obj
        return target.obj.startswith(self.prefix)

    def in_scope(self, target: Target) -> bool:
        if target.account != self.target.account or target.container is None:
            return False
        return self.scope != CONTAINER_SCOPE or target.container == self.target.container

    def authorize(self, environ, method: str, target: Target, container_info,
                  account_info=None):
        environ[OWNER_KEY] = False
        if method == "OPTIONS":
            return None
        if self.for_container and target.obj is None and not environ.get(WEB_READ_KEY):
            return invalid_response()  # the container itself only as staticweb shows it
        if self.covers(target) and method == self.method:
            return None
        if self.method in READ_METHODS and method in READ_METHODS and self.in_scope(target):
            return None
        return invalid_response()


class TempUrlMiddleware:
    def __init__(self, app, options: dict):
        self.app = app
        self.methods = options["methods"]
        self.allowed_digests = options["allowed_digests"]
        self.header_rules = HeaderRules(options["incoming_remove_headers"],
                                        options["incoming_allow_headers"],
                                        options["outgoing_remove_headers"],
                                        options["outgoing_allow_headers"])
        self.capabilities = {"tempurl": {
            "methods": list(self.methods),
            "allowed_digests": list(self.allowed_digests),
            "incoming_remove_headers": list(self.header_rules.incoming_remove),
            "incoming_allow_headers": list(self.header_rules.incoming_allow),
            "outgoing_remove_headers": list(self.header_rules.outgoing_remove),
            "outgoing_allow_headers": list(self.header_rules.outgoing_allow),
        }}

    def __call__(self, environ, start_response):
        query_string = environ.get("QUERY_STRING", "")
        if not has_temp_url_params(query_string) or environ.get("REQUEST_METHOD") == "OPTIONS":
            return self.app(environ, start_response)
        try:
            query = parse_query(query_string)
            if query is None:
                return self.app(environ, start_response)
            grant = self.validate(environ, query)
        except Invalid:
            return invalid_response()(environ, start_response)
        if grant.method in ("PUT", "POST"):
            for key, name in REACHING_HEADERS.items():
                if key in environ:
                    return error(400, f"{name} is not allowed with a temporary URL")(
                        environ, start_response)
        self.admit(environ, grant)
        return self.app(environ, self.answer_filter(environ, start_response, grant, query))

    def validate(self, environ, query: TempUrlQuery) -> Grant:
        """The Grant of a valid temporary URL request; Invalid otherwise."""
        method = environ.get("REQUEST_METHOD", "")
        version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if reason or target is None:
            raise Invalid("not an object path")
        if query.expires < time.time():
            raise Invalid("expired")
        decoded = decode_signature(query.signature, self.allowed_digests)
        if decoded is None:
            raise Invalid("malformed signature or digest not allowed")
        digest, signature = decoded
        path = signed_paths(version, target, query)
        if query.ip_range is not None and not client_in_range(
                query.ip_range, environ.get("REMOTE_ADDR", "")):
            raise Invalid("client address outside temp_url_ip_range")
        candidates = messages(method, path, query, self.methods)
        if not candidates:
            raise Invalid("method not allowed")
        keys = lookup_keys(self.app, environ, target)
        for _signed_method, message in candidates:
            found = matching_key(keys, message, digest, signature)
            if found is not None:
                return Grant(method, target, query, found[1])
        raise Invalid("signature does not match")

    def admit(self, environ, grant: Grant) -> None:
        """Make the request anonymous, authorized by `grant`, without dropped headers."""
        for key in [key for key in environ if key.startswith("HTTP_")]:
            if key in TOKEN_KEYS or self.header_rules.drops_incoming(
                    key[5:].replace("_", "-")):
                del environ[key]
        environ[IDENTITY_KEY] = None
        environ[AUTHORIZE_KEY] = grant.authorize
        environ[AUTHORIZE_OVERRIDE_KEY] = True
        environ[TEMPURL_QUERY_KEY] = grant.query

    def answer_filter(self, environ, start_response, grant: Grant, query: TempUrlQuery):
        rules = self.header_rules
        is_get = environ.get("REQUEST_METHOD") == "GET"

        def filtered_start_response(status, headers, exc_info=None):
            kept = [(name, value) for name, value in headers if not rules.drops_outgoing(name)]
            if is_get and status[:1] == "2":
                existing = next((value for name, value in kept
                                 if name.lower() == "content-disposition"), None)
                value = disposition(query, grant.target.obj or "", existing)
                if value is not None:
                    kept = [(name, v) for name, v in kept
                            if name.lower() != "content-disposition"]
                    kept.append(("Content-Disposition", value))
            return start_response(status, kept, exc_info)

        return filtered_start_response


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:tempurl"),
                           OPTIONS, global_conf.get("__file__", "<config>"))
    return lambda app: TempUrlMiddleware(app, options)
