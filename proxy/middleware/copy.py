"""`copy`: server-side copy, `COPY` with `Destination` and `PUT` with `X-Copy-From`.

    [filter:copy]
    use = egg:brume#copy

The source is read with a GET sub-request and streamed straight into a PUT sub-request of
the destination, both through the pipeline below (so large objects are read as their
content by `slo`/`dlo` below) and both as the requesting user (so the source needs read and
the destination write permission). A COPY's `?version-id=` names the version of the source
to read (`object_versioning`). Metadata is carried over from the source unless
`X-Fresh-Metadata: true`; metadata given on the request is added on top. Large objects are
copied as their content; `?part-number=N` copies that part of an SLO. A `Range` on the
request copies just that range of the source. With
`?multipart-manifest=get` the manifest itself is copied: a DLO's with its
`X-Object-Manifest`, an SLO's as a new manifest PUT of the source's manifest in the PUT
format (`format=raw`), so its segments are checked again where the copy lands.
With `?symlink=get` a symlink is copied as a link (its `X-Symlink-Target*` headers,
then the request's, go with the PUT), else as its target.
"""
from __future__ import annotations

from urllib.parse import parse_qs, quote, unquote, urlencode

from common import constraints
from common.config import load_options
from proxy.get_resume import StreamCut
from proxy.object_headers import lower_headers
from proxy.responses import RawResponse, close_iter, error
from proxy.segments import SegmentError
from proxy.subrequest import call, make_environ, version_query
from proxy.target import object_target

CARRIED = ("content-type", "content-encoding", "content-disposition")
LINK_HEADERS = ("x-symlink-target", "x-symlink-target-account", "x-symlink-target-etag",
                "x-symlink-target-bytes")


class IterReader:
    """A file-like `read(n)` over an iterable of byte chunks."""

    def __init__(self, iterable):
        self._iter = iter(iterable)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        buffer = self._buffer
        while size < 0 or len(buffer) < size:
            chunk = next(self._iter, None)
            if chunk is None:
                break
            buffer = buffer + chunk if buffer else chunk
        if size < 0:
            self._buffer = b""
            return buffer
        self._buffer = buffer[size:]
        return buffer[:size]


def _header_text(value: str) -> str | None:
    """A header naming an account or object (WSGI latin-1 text, maybe %-quoted) as the text
    it means; None when that is not UTF-8."""
    try:
        return unquote(value, encoding="latin-1").encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def _split(value: str):
    """'container/object' (optionally quoted, leading '/') -> (container, object) or None."""
    text = _header_text(value)
    if text is None:
        return None
    container, sep, obj = text.lstrip("/").partition("/")
    if not sep or not container or not obj:
        return None
    return container, obj


def _object_path(account: str, container: str, obj: str) -> str:
    """The path of a sub-request, as text (`make_environ` makes it a WSGI string)."""
    return f"/v1/{account}/{container}/{obj}"


class ServerSideCopy:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method == "COPY" or (method == "PUT" and "HTTP_X_COPY_FROM" in environ):
            target = object_target(environ.get("PATH_INFO", ""))
            if target is not None:
                handler = handle_copy if method == "COPY" else handle_put_copy
                return handler(self.app, environ, target)(environ, start_response)
        return self.app(environ, start_response)


def handle_put_copy(app, environ, target):
    """PUT with X-Copy-From: copy that source to the request's object."""
    headers = lower_headers(environ)
    source = _split(headers.get("x-copy-from", ""))
    if source is None:
        return error(412, "X-Copy-From must be <container>/<object>")
    if headers.get("content-length", "0") not in ("0", ""):
        return error(400, "a copy request must not have a body")
    account = target.account
    if "x-copy-from-account" in headers:
        account = _header_text(headers["x-copy-from-account"])
        if not account:
            return error(412, "X-Copy-From-Account must name an account")
    return copy_object(app, environ, headers, account, source,
                       (target.account, target.container, target.obj))


def handle_copy(app, environ, target):
    """COPY with Destination: copy the request's object there."""
    headers = lower_headers(environ)
    destination = _split(headers.get("destination", ""))
    if destination is None:
        return error(412, "Destination must be <container>/<object>")
    account = target.account
    if "destination-account" in headers:
        account = _header_text(headers["destination-account"])
        if not account:
            return error(412, "Destination-Account must name an account")
    return copy_object(app, environ, headers, target.account,
                       (target.container, target.obj), (account,) + destination,
                       version_query(environ))


def source_query(environ) -> tuple[str, bool]:
    """The query of the source GET (from the client's) and whether the manifest is copied."""
    params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    query = {}
    as_manifest = params.get("multipart-manifest", [""])[0] == "get"
    if as_manifest:
        query = {"multipart-manifest": "get", "format": "raw"}
    elif "part-number" in params:
        query["part-number"] = params["part-number"][0]
    if params.get("symlink", [""])[0] == "get":
        query["symlink"] = "get"
    return urlencode(query), as_manifest


def copy_object(app, environ, headers: dict, src_account: str, source, destination,
                src_query: str = ""):
    """GET the source (a `Range` of it when the request has one), PUT its bytes to the
    destination; `app` is the pipeline below. `src_query` is added to the source GET's
    query (a COPY's `version-id`: copy that version)."""
    src_path = _object_path(src_account, *source)
    ranged = {"range": headers["range"]} if "range" in headers else None
    query, as_manifest = source_query(environ)
    query = "&".join(q for q in (query, src_query) if q)
    # `?symlink=get` copies a symlink itself (its X-Symlink-Target* headers), not its target.
    link_itself = "symlink=get" in query.split("&")
    src = call(app, make_environ(environ, "GET", src_path, ranged, query=query))
    if src.status not in (200, 206):
        close_iter(src.app_iter)
        return error(src.status if src.status >= 400 else 502, "copy source unavailable")
    length_text = src.header("Content-Length")
    if length_text is None or not length_text.isdigit():
        close_iter(src.app_iter)
        return error(503, "copy source has no length")
    length = int(length_text)
    if length > constraints.MAX_FILE_SIZE:
        close_iter(src.app_iter)
        return error(413, f"object larger than {constraints.MAX_FILE_SIZE} bytes")
    put_headers = {}
    if headers.get("x-fresh-metadata", "").lower() not in ("true", "1", "yes"):
        for name, value in src.headers:
            lowered = name.lower()
            if lowered.startswith("x-object-meta-") or lowered in CARRIED:
                put_headers[lowered] = value
            if lowered == "x-delete-at":
                put_headers[lowered] = value
    if link_itself:
        for name, value in src.headers:
            if name.lower() in LINK_HEADERS:
                put_headers[name.lower()] = value
    for name, value in headers.items():
        if name.startswith("x-object-meta-") or name in CARRIED or name in (
                "x-delete-at", "x-delete-after") or (link_itself and name in LINK_HEADERS):
            put_headers[name] = value
    if "x-delete-after" in put_headers:
        put_headers.pop("x-delete-at", None)
    large = src.header("X-Static-Large-Object") or src.header("X-Object-Manifest")
    put_query = ""
    if as_manifest and src.header("X-Static-Large-Object"):
        put_query = "multipart-manifest=put"
    elif as_manifest and src.header("X-Object-Manifest") is not None:
        put_headers.setdefault("x-object-manifest", src.header("X-Object-Manifest"))
    elif not large and src.status == 200 and src.header("Etag"):
        put_headers["etag"] = src.header("Etag").strip('"')
    dst_account, dst_container, dst_obj = destination
    try:
        put = call(app, make_environ(environ, "PUT",
                                     _object_path(dst_account, dst_container, dst_obj),
                                     put_headers, query=put_query,
                                     body_input=IterReader(src.app_iter),
                                     content_length=length))
    except SegmentError as exc:
        return error(409, f"copy source is a broken large object: {exc}")
    except StreamCut:
        return error(503, "copy source broke while reading")
    finally:
        close_iter(src.app_iter)
    if put.status != 201:
        return put
    out = list(put.headers)
    out.append(("X-Copied-From", quote(f"{source[0]}/{source[1]}")))
    if src_account != dst_account:
        out.append(("X-Copied-From-Account", quote(src_account)))
    last_modified = src.header("Last-Modified")
    if last_modified:
        out.append(("X-Copied-From-Last-Modified", last_modified))
    return RawResponse(201, out, put.app_iter)



def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:copy"), [],
                 global_conf.get("__file__", "<config>"))
    return ServerSideCopy
