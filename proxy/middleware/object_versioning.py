"""`object_versioning`: every write of an object in a versioned container is kept.

    [filter:object_versioning]
    use = egg:brume#object_versioning

A container is versioned with `X-Versions-Enabled: true` (PUT/POST; `false` suspends it).
Each PUT then stores the object as a new version in the container's hidden versions
container and leaves a *pointer* in the container itself (`version_names`); each DELETE
stores a delete marker as the newest version and removes the pointer. Responses name the
version with `X-Object-Version-Id`. `?version-id=<id>` reads (GET/HEAD), deletes, restores
(PUT with an empty body makes that version the latest again) or updates (POST) one version;
only the account's owners may use it (a temporary URL's version-id is ignored: it reaches
the latest version). `?versions` lists every version of a container
(`version_listing`). Objects written while versioning is off are the `null` version; they are
kept as a version when a versioned write replaces them. A versioned container can only be
deleted once it has no versions left; account listings never show the hidden containers.

Requests for a version are made below this filter as the requesting user, except that the
user's authorize callback is told that the hidden versions container of the container being
served is allowed (the user was authorized on that container first).
"""
from __future__ import annotations

import json
import mimetypes
import time
from urllib.parse import parse_qs, quote, urlencode

from common.config import load_options
from common.timestamp import Timestamp
from common.truth import is_true
from proxy.acl import parse_acl
from proxy.environ_keys import (
    AUTHORIZE_KEY,
    AUTHORIZE_OVERRIDE_KEY,
    INTERNAL_KEY,
    OWNER_KEY,
    SYSMETA_KEY,
)
from proxy.info_cache import EntityInfo
from proxy.middleware.copy import IterReader
from proxy.middleware.version_listing import plain_rows, render, versions_rows
from proxy.middleware.version_names import (
    CONTAINER_SYSMETA,
    DELETE_MARKER_CONTENT_TYPE,
    HIDDEN_MARK,
    NULL_VERSION,
    PAST_HIDDEN,
    POINTER_SYSMETA,
    SEPARATOR,
    check_version_id,
    is_hidden_container,
    parse_enabled,
    pointer_listing_etag,
    split_version_object,
    version_object,
    versions_container,
)
from proxy.object_headers import OVERRIDE_ETAG, OVERRIDE_SIZE, lower_headers
from proxy.responses import RawResponse, close_iter, empty, error
from proxy.subrequest import allow_as_owner, call, make_environ
from proxy.target import Target, parse_target

CONTAINER_INFO_TTL = 5.0
LISTING_PAGE = 1000
MAX_LISTING = 10000
CARRIED_ON_ARCHIVE = ("content-type", "content-encoding", "content-disposition",
                      "x-object-manifest", "x-static-large-object", "etag")
MY_SYSMETA = (POINTER_SYSMETA, OVERRIDE_ETAG)


class ContainerState:
    """What this filter needs to know of a container: exists, ACLs, versioning."""

    __slots__ = ("status", "headers", "versioning")

    def __init__(self, status: int, headers: dict):
        self.status = status
        self.headers = headers
        value = headers.get(CONTAINER_SYSMETA)
        # None: never versioned; True: versioning; False: suspended.
        self.versioning = None if value is None else value == "true"

    @property
    def exists(self) -> bool:
        return 200 <= self.status < 300

    def entity(self) -> EntityInfo:
        return EntityInfo(self.status, self.headers,
                          parse_acl(self.headers.get("x-container-read")),
                          parse_acl(self.headers.get("x-container-write")))



def _header_map(response) -> dict:
    return {name.lower(): value for name, value in response.headers}


def _without(headers, names) -> list:
    lowered = {name.lower() for name in names}
    return [(name, value) for name, value in headers if name.lower() not in lowered]


class ObjectVersioning:
    capabilities = {"object_versioning": {}}

    def __init__(self, app):
        self.app = app
        self._containers: dict[tuple, tuple[float, ContainerState]] = {}

    # ---- routing -------------------------------------------------------------------

    def __call__(self, environ, start_response):
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if reason or target is None:
            return self.app(environ, start_response)
        response = self.route(environ, target)
        if response is None:
            return self.app(environ, start_response)
        return response(environ, start_response)

    def route(self, environ, target: Target):
        """The answer of this filter, or None to pass the request on unchanged."""
        if is_hidden_container(target.container):
            return error(400, "container names starting with a control character are "
                              "reserved")
        method = environ.get("REQUEST_METHOD")
        if target.container is None:
            if method == "GET":
                self._hide_versions_containers(environ)
            return None
        if target.obj is None:
            return self.container_request(environ, target, method)
        return self.object_request(environ, target, method)

    # ---- sub-requests ------------------------------------------------------------------

    def _versions_authorizer(self, environ, target: Target):
        """The user's authorize callback, with the hidden versions container allowed."""
        user_authorize = environ.get(AUTHORIZE_KEY)
        hidden = versions_container(target.container)
        account = target.account

        def authorize(env, method, sub_target, container_info, account_info=None):
            if sub_target.account == account and sub_target.container == hidden:
                env[OWNER_KEY] = bool(environ.get(OWNER_KEY))
                return None
            if user_authorize is None:
                return error(401, "unauthorized")
            return user_authorize(env, method, sub_target, container_info, account_info)

        return authorize

    def _sub(self, environ, target, method, path, headers=None, query="", body_input=None,
             content_length=None, internal=False, sysmeta=False, trusted=False):
        env = make_environ(environ, method, path, headers, query, body_input, content_length,
                           internal)
        env[AUTHORIZE_KEY] = (allow_as_owner if trusted
                              else self._versions_authorizer(environ, target))
        if sysmeta:
            env[SYSMETA_KEY] = True
        return call(self.app, env)

    def container_state(self, environ, account: str, container: str,
                        fresh: bool = False) -> ContainerState:
        key = (account, container)
        cached = self._containers.get(key)
        if cached is not None and not fresh and cached[0] > time.monotonic():
            return cached[1]
        response = self._sub(environ, None, "HEAD", f"/v1/{account}/{container}",
                             sysmeta=True, trusted=True)
        close_iter(response.app_iter)
        state = ContainerState(response.status, _header_map(response))
        if state.exists:
            if len(self._containers) > 10000:
                self._containers.clear()
            self._containers[key] = (time.monotonic() + CONTAINER_INFO_TTL, state)
        else:
            self._containers.pop(key, None)
        return state

    def _authorize(self, environ, method: str, target: Target, state: ContainerState):
        """None when the user may `method` the target, else the denial."""
        authorize = environ.get(AUTHORIZE_KEY)
        if authorize is None:
            return error(401, "unauthorized")
        return authorize(environ, method, target, state.entity)

    # ---- accounts ----------------------------------------------------------------------

    @staticmethod
    def _hide_versions_containers(environ) -> None:
        """Rewrite an account listing's query so that it skips the hidden containers."""
        query = environ.get("QUERY_STRING", "")
        try:
            params = parse_qs(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return
        if params.get("prefix", [""])[0].startswith(HIDDEN_MARK):
            params["prefix"] = [PAST_HIDDEN]  # lists nothing
        reverse = is_true(params.get("reverse", [""])[0])
        bound = "end_marker" if reverse else "marker"
        if params.get(bound, [""])[0] < PAST_HIDDEN:
            params[bound] = [PAST_HIDDEN]
        environ["QUERY_STRING"] = urlencode(
            [(key, value) for key, values in params.items() for value in values])

    # ---- containers --------------------------------------------------------------------

    def container_request(self, environ, target: Target, method: str):
        if method in ("PUT", "POST"):
            return self.container_write(environ, target, method)
        if method == "GET" and "versions" in parse_qs(environ.get("QUERY_STRING", ""),
                                                      keep_blank_values=True):
            return self.versions_listing(environ, target)
        if method in ("GET", "HEAD"):
            return self.container_read(environ, target, method)
        if method == "DELETE":
            return self.container_delete(environ, target)
        return None

    def container_write(self, environ, target: Target, method: str):
        if not environ.get(INTERNAL_KEY):  # versioned_writes (above) sets its own sysmeta
            for key in [key for key in environ if key.startswith("HTTP_X_CONTAINER_SYSMETA_")]:
                del environ[key]
        value = environ.get("HTTP_X_VERSIONS_ENABLED")
        if value is None:
            return None
        enabled = parse_enabled(value)
        if enabled is None:
            return error(400, "X-Versions-Enabled must be true or false")
        hidden = versions_container(target.container)
        if enabled and len(hidden.encode("utf-8")) > 256:
            return error(400, "container name too long to be versioned")
        if "HTTP_X_VERSIONS_LOCATION" in environ or "HTTP_X_HISTORY_LOCATION" in environ:
            return error(400, "X-Versions-Enabled cannot be set with X-Versions-Location "
                              "or X-History-Location")
        env = dict(environ)
        del env["HTTP_X_VERSIONS_ENABLED"]
        env["HTTP_X_CONTAINER_SYSMETA_VERSIONS_ENABLED"] = "true" if enabled else "false"
        env[INTERNAL_KEY] = True
        if enabled and method == "POST":
            # Authorized (and the container exists) before the hidden container is made.
            state = self.container_state(environ, target.account, target.container, True)
            denial = self._authorize(environ, method, target, state)
            if denial is not None:
                return denial
            if not state.exists:
                return error(404, "container not found")
            problem = self._make_versions_container(environ, target)
            if problem is not None:
                return problem
        response = call(self.app, env)
        self._containers.pop((target.account, target.container), None)
        if enabled and method == "PUT" and 200 <= response.status < 300:
            problem = self._make_versions_container(environ, target)
            if problem is not None:
                close_iter(response.app_iter)
                return problem
        return response

    def _make_versions_container(self, environ, target: Target):
        hidden = versions_container(target.container)
        made = self._sub(environ, target, "PUT", f"/v1/{target.account}/{hidden}",
                         content_length=0, trusted=True)
        close_iter(made.app_iter)
        if not 200 <= made.status < 300:
            return error(503, "could not create the versions container")
        return None

    def _hidden_counts(self, environ, target: Target) -> tuple[int, int]:
        """(objects, bytes) of the container's versions container (0, 0 when none)."""
        hidden = versions_container(target.container)
        head = self._sub(environ, target, "HEAD", f"/v1/{target.account}/{hidden}",
                         trusted=True)
        close_iter(head.app_iter)
        if not 200 <= head.status < 300:
            return 0, 0
        headers = _header_map(head)

        def number(name):
            text = headers.get(name, "0")
            return int(text) if text.isdigit() else 0

        return number("x-container-object-count"), number("x-container-bytes-used")

    def container_read(self, environ, target: Target, method: str):
        env = dict(environ)
        env[SYSMETA_KEY] = True
        wants_json = False
        fmt = self._listing_format(environ)
        if method == "GET":
            env["QUERY_STRING"] = self._with_query(environ.get("QUERY_STRING", ""),
                                                   format="json")
            wants_json = True
        response = call(self.app, env)
        headers = _header_map(response)
        value = headers.get(CONTAINER_SYSMETA)
        if value is None:
            close_iter(response.app_iter)
            return None if not wants_json or response.status >= 300 else \
                self._reissue(environ)
        out = [(name, val) for name, val in response.headers
               if not name.lower().startswith("x-container-sysmeta-")]
        if environ.get(SYSMETA_KEY):
            out.append((CONTAINER_SYSMETA, value))
        out.append(("X-Versions-Enabled", "True" if value == "true" else "False"))
        if not 200 <= response.status < 300:
            return RawResponse(response.status, out, response.app_iter)
        _objects, hidden_bytes = self._hidden_counts(environ, target)
        used = headers.get("x-container-bytes-used", "0")
        if hidden_bytes and used.isdigit():
            out = _without(out, ["X-Container-Bytes-Used"])
            out.append(("X-Container-Bytes-Used", str(int(used) + hidden_bytes)))
        if method == "HEAD":
            close_iter(response.app_iter)
            return RawResponse(response.status, out)
        body = b"".join(response.app_iter)
        close_iter(response.app_iter)
        try:
            rows = json.loads(body or b"[]")
        except ValueError:
            return error(502, "bad listing from the container servers")
        rows = list(plain_rows(rows, target.account, target.container))
        return self._listing_response(out, rows, fmt, target.container)

    def _reissue(self, environ):
        """Not a versioned container: the request as the client sent it."""
        return call(self.app, dict(environ))

    @staticmethod
    def _listing_format(environ) -> str:
        params = parse_qs(environ.get("QUERY_STRING", ""))
        fmt = params.get("format", [""])[0].lower()
        if fmt in ("json", "xml", "plain"):
            return fmt
        accept = environ.get("HTTP_ACCEPT", "")
        if "application/json" in accept:
            return "json"
        if "application/xml" in accept or "text/xml" in accept:
            return "xml"
        return "plain"

    @staticmethod
    def _with_query(query: str, **changes) -> str:
        params = [(key, value) for key, value in parse_qs(query, keep_blank_values=True)
                  .items() for value in value if key not in changes]
        params.extend(changes.items())
        return urlencode([(key, value if not isinstance(value, list) else value[0])
                          for key, value in params])

    @staticmethod
    def _listing_response(headers, rows, fmt: str, container: str):
        headers = _without(headers, ["Content-Type", "Content-Length"])
        if not rows and fmt == "plain":
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            return empty(204, headers)
        body, content_type = render(rows, fmt, container)
        headers.append(("Content-Type", content_type))
        headers.append(("Content-Length", str(len(body))))
        return RawResponse(200, headers, [body])

    def container_delete(self, environ, target: Target):
        state = self.container_state(environ, target.account, target.container, True)
        if state.versioning is None:
            return None
        denial = self._authorize(environ, "DELETE", target, state)
        if denial is not None:
            return denial
        objects, _bytes = self._hidden_counts(environ, target)
        if objects:
            return error(409, "container still has versions: delete them first")
        response = call(self.app, dict(environ))
        self._containers.pop((target.account, target.container), None)
        if 200 <= response.status < 300:
            hidden = versions_container(target.container)
            gone = self._sub(environ, target, "DELETE", f"/v1/{target.account}/{hidden}",
                             trusted=True)
            close_iter(gone.app_iter)
        return response

    # ---- ?versions listings ------------------------------------------------------------

    def _iter_rows(self, environ, target: Target, container: str, params: dict,
                   limit: int, trusted: bool, first=None):
        """Rows of a container listing, page after page (`first`: the first page)."""
        fetched = 0
        page = first
        marker = params.get("marker", "")
        while fetched < limit:
            if page is None:
                query = dict(params)
                if marker:
                    query["marker"] = marker
                query["format"] = "json"
                query["limit"] = str(min(LISTING_PAGE, limit - fetched))
                response = self._sub(environ, target, "GET",
                                     f"/v1/{target.account}/{container}",
                                     query=urlencode(query), trusted=trusted)
                if response.status == 204 or response.status == 404:
                    close_iter(response.app_iter)
                    return
                page = self._json_rows(response)
                if page is None:
                    return
                asked = int(query["limit"])
            else:
                asked = LISTING_PAGE
            yield from page
            fetched += len(page)
            if len(page) < asked or not page:
                return
            last = page[-1]
            marker = last.get("name") or last.get("subdir")
            page = None

    @staticmethod
    def _json_rows(response):
        if response.status != 200:
            close_iter(response.app_iter)
            return None
        body = b"".join(response.app_iter)
        close_iter(response.app_iter)
        try:
            rows = json.loads(body or b"[]")
        except ValueError:
            return None
        return rows if isinstance(rows, list) else None

    def versions_listing(self, environ, target: Target):
        try:
            params = {key: values[0] for key, values in parse_qs(
                environ.get("QUERY_STRING", ""), keep_blank_values=True,
                errors="strict").items()}
        except UnicodeDecodeError:
            return error(400, "listing parameters must be valid UTF-8")
        fmt = params.get("format", "").lower()
        accept = environ.get("HTTP_ACCEPT", "")
        if fmt not in ("", "json") or (not fmt and accept and not any(
                kind in accept for kind in ("application/json", "*/*", "application/*"))):
            return error(406, "?versions listings are JSON only")
        limit_text = params.get("limit", "")
        if limit_text and (not limit_text.isdigit() or int(limit_text) > MAX_LISTING):
            return error(412, f"limit must be an integer up to {MAX_LISTING}")
        limit = int(limit_text) if limit_text else MAX_LISTING
        reverse = params.get("reverse", "").lower() in ("true", "1", "yes", "on")
        marker = params.get("marker", "")
        version_marker = params.get("version_marker", "")
        if version_marker:
            if not marker:
                return error(400, "version_marker needs a marker")
            if version_marker != NULL_VERSION and check_version_id(version_marker) is None:
                return error(400, "invalid version_marker")
        shared = {key: params[key] for key in ("prefix", "delimiter", "end_marker")
                  if params.get(key)}
        if reverse:
            shared["reverse"] = "true"
        main_params = dict(shared)
        if marker:
            main_params["marker"] = marker
        first_query = dict(main_params, format="json", limit=str(min(LISTING_PAGE, limit)))
        first = self._sub(environ, target, "GET",
                          f"/v1/{target.account}/{target.container}",
                          query=urlencode(first_query))
        if first.status not in (200, 204):
            return first
        headers = [(name, value) for name, value in first.headers
                   if not name.lower().startswith("x-container-sysmeta-")]
        first_rows = [] if first.status == 204 else self._json_rows(first)
        if first_rows is None:
            return error(502, "bad listing from the container servers")
        version_params = dict(shared)
        if marker:
            if version_marker and version_marker != NULL_VERSION:
                version_params["marker"] = version_object(marker, version_marker)
            elif reverse or version_marker == NULL_VERSION:
                version_params["marker"] = marker + SEPARATOR
            else:
                version_params["marker"] = marker + chr(ord(SEPARATOR) + 1)
        hidden = versions_container(target.container)
        main_rows = self._iter_rows(environ, target, target.container, main_params, limit,
                                    False, first_rows)
        hidden_rows = self._iter_rows(environ, target, hidden, version_params, limit, True)

        def newest_version(name):
            rows = list(self._iter_rows(environ, target, hidden,
                                        {"prefix": name + SEPARATOR}, 1, True))
            split = split_version_object(rows[0]["name"]) if rows else None
            return split[1] if split else None

        rows = list(versions_rows(main_rows, hidden_rows, limit, reverse, newest_version))
        return self._listing_response(headers, rows, "json", target.container)

    # ---- objects -----------------------------------------------------------------------

    def object_request(self, environ, target: Target, method: str):
        query_string = environ.get("QUERY_STRING", "")
        version_id = None
        if "version-id" in query_string:
            query = parse_qs(query_string, keep_blank_values=True)
            version_id = query.get("version-id", [None])[0]
        if environ.get(AUTHORIZE_OVERRIDE_KEY):
            version_id = None  # a temporary URL reaches the latest version only (as Swift's)
        if version_id is None:
            if method not in ("GET", "HEAD", "PUT", "DELETE", "POST"):
                return None
            state = self.container_state(environ, target.account, target.container)
            if state.versioning is None:
                return None
            if method in ("GET", "HEAD"):
                return self.read_latest(environ, target, method)
            if method == "POST":
                return self.post_latest(environ, target, state)
            if not state.versioning:
                return None
            if method == "PUT":
                return self.put_version(environ, target, state)
            return self.delete_latest(environ, target, state)
        return self.version_request(environ, target, method, version_id)

    def _paths(self, target: Target) -> tuple[str, str]:
        main = f"/v1/{target.account}/{target.container}/{target.obj}"
        hidden = f"/v1/{target.account}/{versions_container(target.container)}"
        return main, hidden

    def _head_main(self, environ, target: Target):
        """(status, headers) of the container's own object, as stored."""
        main, _hidden = self._paths(target)
        head = self._sub(environ, target, "HEAD", main, sysmeta=True, trusted=True)
        close_iter(head.app_iter)
        return head.status, _header_map(head)

    @staticmethod
    def _strip_sysmeta(environ, headers) -> list:
        keep_sysmeta = bool(environ.get(SYSMETA_KEY))
        return [(name, value) for name, value in headers
                if name.lower() not in MY_SYSMETA and (
                    keep_sysmeta or not name.lower().startswith("x-object-sysmeta-"))]

    def _version_env(self, environ, target: Target, method: str, path: str, query=""):
        """The client's request, aimed at `path`, authorized for the versions container."""
        env = dict(environ)
        env["REQUEST_METHOD"] = method
        env["PATH_INFO"] = path.encode("utf-8", "surrogateescape").decode("latin-1")
        env["QUERY_STRING"] = query
        env[AUTHORIZE_KEY] = self._versions_authorizer(environ, target)
        return env

    def _serve_version(self, environ, target: Target, method: str, version_id: str,
                       latest: bool):
        _main, hidden = self._paths(target)
        path = f"{hidden}/{version_object(target.obj, version_id)}"
        env = self._version_env(environ, target, method, path)
        env[SYSMETA_KEY] = True
        response = call(self.app, env)
        headers = self._strip_sysmeta(environ, response.headers)
        content_type = next((value for name, value in response.headers
                             if name.lower() == "content-type"), "")
        if response.status < 300 and content_type == DELETE_MARKER_CONTENT_TYPE:
            close_iter(response.app_iter)
            return RawResponse(404, [("Content-Type", DELETE_MARKER_CONTENT_TYPE),
                                     ("Content-Length", "0"),
                                     ("X-Object-Version-Id", version_id)], [b""])
        headers.append(("X-Object-Version-Id", version_id))
        if latest:
            location = quote(f"/v1/{target.account}/{target.container}/{target.obj}")
            headers.append(("Content-Location", f"{location}?version-id={version_id}"))
        return RawResponse(response.status, headers, response.app_iter)

    def read_latest(self, environ, target: Target, method: str):
        main, _hidden = self._paths(target)
        head = self._sub(environ, target, "HEAD", main, sysmeta=True)
        close_iter(head.app_iter)
        pointer = _header_map(head).get(POINTER_SYSMETA)
        if pointer is None or not 200 <= head.status < 300:
            return None
        return self._serve_version(environ, target, method, pointer, latest=True)

    def _archive_null(self, environ, target: Target, headers: dict):
        """Keep the container's plain object as a version before it is replaced."""
        stamp = headers.get("x-timestamp")
        if stamp is None or check_version_id(stamp) is None:
            stamp = Timestamp.now().normal
        main, hidden = self._paths(target)
        source = self._sub(environ, target, "GET", main, sysmeta=True, trusted=True)
        if source.status == 404:
            close_iter(source.app_iter)
            return None
        if source.status != 200:
            close_iter(source.app_iter)
            return error(503, "could not keep the current object as a version")
        carried = {}
        for name, value in source.headers:
            lowered = name.lower()
            if lowered in CARRIED_ON_ARCHIVE or lowered.startswith(
                    ("x-object-meta-", "x-object-sysmeta-")):
                carried[lowered] = value.strip('"') if lowered == "etag" else value
        length = int(_header_map(source).get("content-length", "0") or 0)
        try:
            put = self._sub(environ, target, "PUT",
                            f"{hidden}/{version_object(target.obj, stamp)}", carried,
                            body_input=IterReader(source.app_iter), content_length=length,
                            internal=True, trusted=True)
        finally:
            close_iter(source.app_iter)
        close_iter(put.app_iter)
        if put.status != 201:
            return error(503, "could not keep the current object as a version")
        return None

    def _write_pointer(self, environ, target: Target, version_id: str, content_type: str,
                       etag: str, size: int, extra: dict | None = None):
        main, _hidden = self._paths(target)
        headers = {"content-type": content_type, POINTER_SYSMETA: version_id,
                   OVERRIDE_ETAG: pointer_listing_etag(etag, version_id, size)}
        headers.update(extra or {})
        put = self._sub(environ, target, "PUT", main, headers, content_length=0,
                        internal=True, trusted=True)
        close_iter(put.app_iter)
        return put

    def put_version(self, environ, target: Target, state: ContainerState):
        denial = self._authorize(environ, "PUT", target, state)
        if denial is not None:
            return denial
        status, current = self._head_main(environ, target)
        if 200 <= status < 300 and POINTER_SYSMETA not in current:
            problem = self._archive_null(environ, target, current)
            if problem is not None:
                return problem
        version_id = Timestamp.now().normal
        _main, hidden = self._paths(target)
        env = self._version_env(environ, target, "PUT",
                                f"{hidden}/{version_object(target.obj, version_id)}")
        expiry = {}
        for key, name in (("HTTP_X_DELETE_AT", "x-delete-at"),
                          ("HTTP_X_DELETE_AFTER", "x-delete-after")):
            if key in env:
                expiry[name] = env.pop(key)
        headers = lower_headers(environ)
        content_type = headers.get("content-type")
        if not content_type:
            guessed = mimetypes.guess_type(target.obj, strict=False)[0]
            content_type = guessed or "application/octet-stream"
            env["CONTENT_TYPE"] = content_type
        put = call(self.app, env)
        if put.status != 201:
            return put
        close_iter(put.app_iter)
        etag = (put.header("Etag") or "").strip('"')
        listing_etag = headers.get(OVERRIDE_ETAG, etag)
        length = headers.get(OVERRIDE_SIZE, headers.get("content-length", ""))
        if length.isdigit():  # an SLO manifest's version is listed with the large object's size
            size = int(length)
        else:
            size = self._version_size(environ, target, version_id)
        pointer = self._write_pointer(environ, target, version_id, content_type,
                                      listing_etag, size, expiry)
        if pointer.status != 201:
            return error(pointer.status if pointer.status >= 400 else 503,
                         "the new version was stored but could not be made the latest")
        out = _without(put.headers, ["Content-Length"])
        out.append(("X-Object-Version-Id", version_id))
        return empty(201, out)

    def _version_size(self, environ, target: Target, version_id: str) -> int:
        _main, hidden = self._paths(target)
        head = self._sub(environ, target, "HEAD",
                         f"{hidden}/{version_object(target.obj, version_id)}", trusted=True)
        close_iter(head.app_iter)
        text = _header_map(head).get("content-length", "0")
        return int(text) if text.isdigit() else 0

    def delete_latest(self, environ, target: Target, state: ContainerState):
        denial = self._authorize(environ, "DELETE", target, state)
        if denial is not None:
            return denial
        status, current = self._head_main(environ, target)
        exists = 200 <= status < 300
        if exists and POINTER_SYSMETA not in current:
            problem = self._archive_null(environ, target, current)
            if problem is not None:
                return problem
        version_id = Timestamp.now().normal
        main, hidden = self._paths(target)
        marker = self._sub(environ, target, "PUT",
                           f"{hidden}/{version_object(target.obj, version_id)}",
                           {"content-type": DELETE_MARKER_CONTENT_TYPE}, content_length=0,
                           trusted=True)
        close_iter(marker.app_iter)
        if marker.status != 201:
            return error(503, "could not store the delete marker")
        if exists:
            gone = self._sub(environ, target, "DELETE", main, trusted=True)
            close_iter(gone.app_iter)
            if not (200 <= gone.status < 300 or gone.status == 404):
                return error(gone.status if gone.status >= 400 else 503)
        if exists:
            return empty(204, [("X-Object-Version-Id", version_id)])
        return error(404, "not found", [("X-Object-Version-Id", version_id)])

    def post_latest(self, environ, target: Target, state: ContainerState):
        status, current = self._head_main(environ, target)
        pointer = current.get(POINTER_SYSMETA)
        if pointer is None or not 200 <= status < 300:
            return None
        denial = self._authorize(environ, "POST", target, state)
        if denial is not None:
            return denial
        main, hidden = self._paths(target)
        expiry = {}
        env = self._version_env(environ, target, "POST",
                                f"{hidden}/{version_object(target.obj, pointer)}")
        for key, name in (("HTTP_X_DELETE_AT", "x-delete-at"),
                          ("HTTP_X_DELETE_AFTER", "x-delete-after")):
            if key in env:
                expiry[name] = env.pop(key)
        response = call(self.app, env)
        if not 200 <= response.status < 300 or not expiry:
            return response
        close_iter(response.app_iter)
        expire = self._sub(environ, target, "POST", main, expiry, trusted=True)
        return expire

    # ---- ?version-id= ------------------------------------------------------------------

    def version_request(self, environ, target: Target, method: str, version_id: str):
        if method not in ("GET", "HEAD", "PUT", "DELETE", "POST"):
            return error(400, "version-id is for GET, HEAD, PUT, POST and DELETE")
        state = self.container_state(environ, target.account, target.container)
        denial = self._authorize(environ, method, target, state)
        if denial is not None:
            return denial
        if not environ.get(OWNER_KEY):
            return error(403, "only the account's owners may address a version")
        if version_id != NULL_VERSION and check_version_id(version_id) is None:
            return error(400, "invalid version-id")
        if method == "PUT":
            if version_id == NULL_VERSION:
                return error(400, "version-id=null cannot be restored")
            return self.restore_version(environ, target, version_id)
        if version_id == NULL_VERSION:
            return self.null_version(environ, target, method)
        if state.versioning is None and method != "DELETE":
            return error(404, "not found")
        if method == "DELETE":
            return self.delete_version(environ, target, version_id)
        return self._serve_version(environ, target, method, version_id, latest=False)

    def null_version(self, environ, target: Target, method: str):
        status, current = self._head_main(environ, target)
        if method != "DELETE" and POINTER_SYSMETA in current:
            return error(404, "not found")
        env = dict(environ)
        env["QUERY_STRING"] = ""
        env[AUTHORIZE_KEY] = allow_as_owner
        response = call(self.app, env)
        return RawResponse(response.status, self._strip_sysmeta(environ, response.headers)
                           + [("X-Object-Version-Id", NULL_VERSION)], response.app_iter)

    def delete_version(self, environ, target: Target, version_id: str):
        main, hidden = self._paths(target)
        status, current = self._head_main(environ, target)
        gone = self._sub(environ, target, "DELETE",
                         f"{hidden}/{version_object(target.obj, version_id)}", trusted=True)
        close_iter(gone.app_iter)
        if 200 <= status < 300 and current.get(POINTER_SYSMETA) == version_id:
            unlinked = self._sub(environ, target, "DELETE", main, trusted=True)
            close_iter(unlinked.app_iter)
        if gone.status == 404:
            return empty(204, [("X-Object-Version-Id", version_id)])
        if not 200 <= gone.status < 300:
            return error(gone.status)
        return empty(204, [("X-Object-Version-Id", version_id)])

    def restore_version(self, environ, target: Target, version_id: str):
        length = environ.get("CONTENT_LENGTH", "")
        if length not in ("", "0"):
            return error(400, "a PUT with version-id must have an empty body")
        _main, hidden = self._paths(target)
        head = self._sub(environ, target, "HEAD",
                         f"{hidden}/{version_object(target.obj, version_id)}",
                         sysmeta=True, trusted=True)
        close_iter(head.app_iter)
        if head.status == 404:
            return error(404, "no such version")
        if not 200 <= head.status < 300:
            return error(head.status)
        headers = _header_map(head)
        content_type = headers.get("content-type", "application/octet-stream")
        if content_type == DELETE_MARKER_CONTENT_TYPE:
            return error(400, "a delete marker cannot be restored")
        etag = headers.get(OVERRIDE_ETAG, headers.get("etag", "").strip('"'))
        size_text = headers.get(OVERRIDE_SIZE, headers.get("content-length", "0"))
        pointer = self._write_pointer(environ, target, version_id, content_type, etag,
                                      int(size_text) if size_text.isdigit() else 0)
        if pointer.status != 201:
            return error(pointer.status if pointer.status >= 400 else 503)
        return empty(201, [("X-Object-Version-Id", version_id),
                           ("Etag", headers.get("etag", ""))])


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:object_versioning"), [],
                 global_conf.get("__file__", "<config>"))
    return ObjectVersioning
