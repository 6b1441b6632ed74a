"""`symlink`: objects that point at other objects (Swift's symlinks and static links).

    [filter:symlink]
    use = egg:brume#symlink
    symloop_max = 2

A zero-byte `PUT` with `X-Symlink-Target: <container>/<object>` (and optionally
`X-Symlink-Target-Account`) makes a link; with `X-Symlink-Target-Etag` (and
`X-Symlink-Target-Bytes`) a static link, checked against the target when it is made (HEAD as
the user: 409 when missing or different) and on every read (409 once the target changed).
A GET/HEAD of a link answers with its target (read as the same user, so ACLs apply) and
`Content-Location: /v1/<account>/<container>/<object>` of the target; a chain of more than
`symloop_max` links is a 409. `?symlink=get` reads the link itself, with its
`X-Symlink-Target*` headers. A POST to a link updates the link's metadata and answers 307
with `Location` of the target; a POST cannot set a target (400). Container listings show a
link's `symlink_path` (and a static link's `symlink_etag`, `symlink_bytes`).

It sits low in the pipeline (above the app only), so `slo`, `dlo`, `copy` and versioning
above it see a link's target as the object. Public surface, for middleware above it:
`symlink_target.SYSMETA_*` (the link's sysmeta: a middleware that copies an object's sysmeta,
e.g. to archive a version, keeps it a link), `is_link(headers)`, and `?symlink=get`
(`SYMLINK_GET_QUERY`), which reads or copies a link rather than its target.
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from common.config import Option, load_options, positive_int
from proxy.environ_keys import INTERNAL_KEY, SYSMETA_KEY
from proxy.get_resume import StreamCut
from proxy.middleware.slo_manifest import SYSMETA_ETAG as SLO_SYSMETA_ETAG
from proxy.middleware.slo_manifest import SYSMETA_SIZE as SLO_SYSMETA_SIZE
from proxy.middleware.slo_manifest import is_slo, sysmeta_of
from proxy.middleware.symlink_target import (
    EMPTY_ETAG,
    SYSMETA_ACCOUNT,
    Link,
    LinkRefusal,
    clean_etag,
    client_link_headers,
    link_sysmeta,
    listing_entry,
    parse_link_request,
    stored_link,
)
from proxy.object_headers import (
    INTERNAL_ONLY,
    OVERRIDE_ETAG,
    has_object_sysmeta,
    lower_headers,
)
from proxy.responses import RawResponse, close_iter, error
from proxy.segments import read_body
from proxy.subrequest import call, call_or_pass, same_resource
from proxy.target import object_target, parse_target

SYMLINK_GET_QUERY = "symlink=get"
OPTIONS = [Option("symloop_max", positive_int, 2, "links followed in a chain before a 409")]
# Conditions and ranges meant for the target: a link (an empty object) fails them itself.
TARGET_ONLY_KEYS = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                    "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
MAX_LISTING_BYTES = 64 * 1024 * 1024
_XML_HASH = re.compile(rb"<hash>([^<;]*);[^<]*</hash>")


def is_link(headers) -> bool:
    """Whether an object's answer (with sysmeta) is a symlink."""
    for name, _value in headers:
        if name[:1] in ("x", "X") and name.lower() == "x-object-sysmeta-symlink-target":
            return True
    return False


def wants_link_itself(environ) -> bool:
    query = environ.get("QUERY_STRING", "")
    return "symlink" in query and parse_qs(query).get("symlink", [""])[0] == "get"


def _sysmeta_filter(headers: list, keep_sysmeta: bool) -> list:
    """Headers without the link's own sysmeta (and without any sysmeta unless asked); the
    same list when it holds no sysmeta (a plain object's answer)."""
    if not has_object_sysmeta(headers):
        return headers
    out = []
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith("x-object-sysmeta-"):
            if not keep_sysmeta or lowered.startswith("x-object-sysmeta-symlink-") or \
                    lowered == OVERRIDE_ETAG:
                continue
        out.append((name, value))
    return out


def _with_header(headers: list, name: str, value: str) -> list:
    lowered = name.lower()
    if any(k.lower() == lowered for k, _ in headers):
        return headers
    return headers + [(name, value)]



def _path_info(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("latin-1")


class Symlink:
    def __init__(self, app, symloop_max: int = 2):
        self.app = app
        self.symloop_max = symloop_max
        self.capabilities = {"symlink": {"symloop_max": symloop_max, "static_links": True}}

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if reason or target is None or target.container is None:
            return self.app(environ, start_response)
        if target.obj is None:
            if method == "GET":
                return self.listing(environ)(environ, start_response)
            return self.app(environ, start_response)
        if method in ("GET", "HEAD"):
            if wants_link_itself(environ):
                response = self.read_link_itself(environ)
            else:
                response, passed_body = self.read_through(environ, target, start_response)
                if response is None:  # not a link: already on its way to the client
                    return passed_body
        elif method == "PUT" and "HTTP_X_SYMLINK_TARGET" in environ:
            response = self.put_link(environ, target)
        elif method == "POST":
            if "HTTP_X_SYMLINK_TARGET" in environ:
                response = error(400, "A PUT request is required to set a symlink target")
            else:
                response = self.post(environ, target)
        else:
            return self.app(environ, start_response)
        return response(environ, start_response)

    # -- reads ------------------------------------------------------------------------------

    def read_link_itself(self, environ):
        """`?symlink=get`: the object itself; a link shows its X-Symlink-Target* headers."""
        asked = bool(environ.get(SYSMETA_KEY))
        sub = dict(environ)
        sub[SYSMETA_KEY] = True
        response = call(self.app, sub)
        target = object_target(environ["PATH_INFO"])
        link = stored_link(response.headers, target.account)
        headers = _sysmeta_filter(response.headers, asked)
        if link is not None:
            explicit = any(k.lower() == SYSMETA_ACCOUNT for k, _ in response.headers)
            headers = headers + client_link_headers(link, explicit)
        response.headers = headers
        return response

    def read_through(self, environ, target, start_response):
        """A GET/HEAD: an object as stored, a link as its target (with Content-Location).

        -> (response, None), or (None, body) when the object is no link and its answer
        went straight on to `start_response`."""
        asked = bool(environ.get(SYSMETA_KEY))
        sub = dict(environ)
        sub[SYSMETA_KEY] = True
        conditional = any(map(sub.get, TARGET_ONLY_KEYS))

        def keep(status, headers):
            return (conditional and status in (304, 412, 416)) or \
                (200 <= status < 300 and is_link(headers))

        response, passed_body = call_or_pass(self.app, sub, start_response, keep,
                                             lambda headers: _sysmeta_filter(headers, asked))
        if response is None:
            return None, passed_body
        response, _validates_as = self.follow(environ, environ["PATH_INFO"], target.account, 0,
                                              (sub, response))
        response.headers = _sysmeta_filter(response.headers, asked)
        return response, None

    def follow(self, environ, path_info: str, account: str, depth: int, read=None):
        """(answer for `path_info`, the ETag a static link to it must name: None at depth 0,
        where no link points at it). `read`: (the sub-request's environ, the app's answer),
        when the caller already asked."""
        if read is not None:
            sub, response = read
        else:
            sub = dict(environ)
            sub["PATH_INFO"] = path_info
            sub[SYSMETA_KEY] = True
            if depth:  # a `version-id` named the link's version, not its target's
                sub["QUERY_STRING"] = "&".join(
                    part for part in environ.get("QUERY_STRING", "").split("&")
                    if part.split("=", 1)[0] != "version-id")
            response = call(self.app, sub)
        if response.status in (304, 412, 416) and any(sub.get(k) for k in TARGET_ONLY_KEYS):
            # The condition may have been tested on a link: look at the object plainly.
            probe = call(self.app, same_resource(sub, "HEAD", TARGET_ONLY_KEYS))
            if 200 <= probe.status < 300 and is_link(probe.headers):
                close_iter(response.app_iter)
                response = probe
            else:
                close_iter(probe.app_iter)
        link = stored_link(response.headers, account) if 200 <= response.status < 300 else None
        if link is None:
            return response, _validation_etag(response) if depth else None
        close_iter(response.app_iter)
        if depth >= self.symloop_max:
            return error(409, "Too many levels of symbolic links, maximum allowed is "
                         f"{self.symloop_max}"), None
        inner, inner_validates = self.follow(environ, _path_info(link.raw_path),
                                             link.account, depth + 1)
        if link.etag is not None and (200 <= inner.status < 300 or inner.status in (304, 412)) \
                and inner_validates is not None and inner_validates != link.etag:
            close_iter(inner.app_iter)
            inner = error(409, f"Object Etag {inner_validates!r} does not match "
                          f"X-Symlink-Target-Etag header {link.etag!r}")
        inner.headers = _with_header(inner.headers, "Content-Location", link.path)
        return inner, link.etag if link.etag is not None else EMPTY_ETAG

    # -- writes -----------------------------------------------------------------------------

    def put_link(self, environ, target):
        headers = lower_headers(environ)
        internal = bool(environ.get(INTERNAL_KEY))
        if not internal and any(name.startswith(INTERNAL_ONLY) for name in headers):
            return self.app  # the app refuses reserved headers (400)
        length = environ.get("CONTENT_LENGTH")
        if "chunked" in headers.get("transfer-encoding", "").lower() or \
                (length not in (None, "") and length != "0"):
            return error(400, "Symlink requests require a zero byte body")
        try:
            link = parse_link_request(headers, target.account, target.container, target.obj)
        except LinkRefusal as refusal:
            return error(refusal.status, refusal.reason)
        slo_etag = None
        content_type = None
        if link.etag is not None:
            checked = self.check_static_target(environ, link)
            if isinstance(checked, RawResponse):
                return checked
            slo_etag, content_type = checked
        sysmeta = link_sysmeta(link, "x-symlink-target-account" in headers, slo_etag)
        put_environ = {key: value for key, value in environ.items()
                       if not key.startswith("HTTP_X_SYMLINK_TARGET")}
        for name, value in sysmeta.items():
            put_environ["HTTP_" + name.upper().replace("-", "_")] = value
        if content_type and "content-type" not in headers:
            put_environ["CONTENT_TYPE"] = content_type
        put_environ["CONTENT_LENGTH"] = "0"
        put_environ.pop("HTTP_TRANSFER_ENCODING", None)
        put_environ[INTERNAL_KEY] = True
        response = call(self.app, put_environ)
        if response.status == 201:
            response.headers = response.headers + client_link_headers(
                link, "x-symlink-target-account" in headers)
        return response

    def check_static_target(self, environ, link: Link):
        """(slo etag, content type) of a static link's target, or the refusal (409, 4xx)."""
        sub = same_resource(environ, "HEAD", TARGET_ONLY_KEYS + ("QUERY_STRING",))
        sub["PATH_INFO"] = _path_info(link.raw_path)
        sub["QUERY_STRING"] = ""
        sub[SYSMETA_KEY] = True
        sub[INTERNAL_KEY] = False
        response = call(self.app, sub)
        close_iter(response.app_iter)
        if response.status == 404:
            return error(409, "X-Symlink-Target does not exist")
        if not 200 <= response.status < 300:
            return error(response.status)
        inner = stored_link(response.headers, link.account)
        slo_etag = None
        if inner is not None:
            etag = inner.etag if inner.etag is not None else EMPTY_ETAG
            size = (inner.size or 0) if inner.etag is not None else 0
        else:
            etag = clean_etag(response.header("Etag") or "")
            size = int(response.header("Content-Length") or 0)
            if is_slo(response):
                sysmeta = sysmeta_of(response.headers)
                if (sysmeta.get(SLO_SYSMETA_SIZE) or "").isdigit():
                    size = int(sysmeta[SLO_SYSMETA_SIZE])
                slo_etag = sysmeta.get(SLO_SYSMETA_ETAG)
        if etag != link.etag:
            return error(409, f"Object Etag {etag!r} does not match X-Symlink-Target-Etag "
                         f"header {link.etag!r}")
        if link.size is not None and link.size != size:
            return error(409, f"Object Content-Length {size!r} does not match "
                         f"X-Symlink-Target-Bytes header {link.size!r}")
        link.size = size
        return slo_etag, response.header("Content-Type")

    def post(self, environ, target):
        """POST as sent (the link's own metadata); a link answers 307 to its target."""
        response = call(self.app, environ)
        if response.status != 202:
            return response
        probe = call(self.app, same_resource(environ, "HEAD", TARGET_ONLY_KEYS)
                     | {SYSMETA_KEY: True, "QUERY_STRING": ""})
        close_iter(probe.app_iter)
        link = stored_link(probe.headers, target.account) if probe.status == 200 else None
        if link is None:
            return response
        close_iter(response.app_iter)
        headers = [("Location", link.path)]
        if link.etag is not None:
            headers.append(("X-Symlink-Target-Etag", link.etag))
            if link.size is not None:
                headers.append(("X-Symlink-Target-Bytes", str(link.size)))
        return error(307, "The POST was applied to the symlink itself; POST to its target "
                     "to change the target", headers)

    # -- listings ---------------------------------------------------------------------------

    def listing(self, environ):
        """A container listing with links' `hash` parameters turned into symlink fields."""
        response = call(self.app, environ)
        content_type = (response.header("Content-Type") or "").lower()
        if response.status != 200 or not content_type.startswith(
                ("application/json", "application/xml", "text/xml")):
            return response
        try:
            body = read_body(response.app_iter, MAX_LISTING_BYTES)
        except (ValueError, StreamCut):
            return error(503, "container listing unreadable")
        if b"symlink_target=" not in body:
            pass  # no link listed: the body as it came
        elif content_type.startswith("application/json"):
            try:
                entries = json.loads(body)
            except ValueError:
                return error(503, "container listing unreadable")
            if isinstance(entries, list):
                rewritten = [listing_entry(e) if isinstance(e, dict) else e for e in entries]
                if rewritten != entries:
                    body = json.dumps(rewritten).encode()
        else:
            body = _XML_HASH.sub(rb"<hash>\1</hash>", body)
        headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        return RawResponse(200, headers, [body])


def _validation_etag(response) -> str | None:
    etag = response.header("Etag")
    return clean_etag(etag) if etag is not None else None


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:symlink"),
                           OPTIONS, global_conf.get("__file__", "<config>"))
    return lambda app: Symlink(app, options["symloop_max"])
