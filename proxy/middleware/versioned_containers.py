"""Object versioning, container side: enabling versioning, listings, `?versions`, DELETE.

`VersionedContainers` serves the container requests of `object_versioning`: a PUT/POST with
`X-Versions-Enabled` (creating the hidden versions container on first use), container
GET/HEAD with the version counts and the pointers shown as plain objects, `?versions`
listings merged from the container and its versions container, and DELETE (refused while
versions are left). Sub-requests go through the filter (`mw`).
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

from proxy.environ_keys import (
    INTERNAL_KEY,
    SYSMETA_KEY,
)
from proxy.middleware.version_listing import plain_rows, render, versions_rows
from proxy.middleware.version_names import (
    CONTAINER_SYSMETA,
    NULL_VERSION,
    SEPARATOR,
    check_version_id,
    parse_enabled,
    split_version_object,
    version_object,
    versions_container,
)
from proxy.middleware.version_state import header_map, without_headers
from proxy.responses import RawResponse, close_iter, empty, error
from proxy.subrequest import call
from proxy.target import Target

LISTING_PAGE = 1000
MAX_LISTING = 10000


class VersionedContainers:
    def __init__(self, mw):
        self.mw = mw  # the ObjectVersioning filter: sub-requests, container state, authorize

    def request(self, environ, target: Target, method: str):
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
            state = self.mw.container_state(environ, target.account, target.container, True)
            denial = self.mw.authorize(environ, method, target, state)
            if denial is not None:
                return denial
            if not state.exists:
                return error(404, "container not found")
            problem = self._make_versions_container(environ, target)
            if problem is not None:
                return problem
        response = call(self.mw.app, env)
        self.mw.forget_container(target.account, target.container)
        if enabled and method == "PUT" and 200 <= response.status < 300:
            problem = self._make_versions_container(environ, target)
            if problem is not None:
                close_iter(response.app_iter)
                return problem
        return response

    def _make_versions_container(self, environ, target: Target):
        hidden = versions_container(target.container)
        made = self.mw.sub(environ, target, "PUT", f"/v1/{target.account}/{hidden}",
                           content_length=0, trusted=True)
        close_iter(made.app_iter)
        if not 200 <= made.status < 300:
            return error(503, "could not create the versions container")
        return None

    def _hidden_counts(self, environ, target: Target) -> tuple[int, int]:
        """(objects, bytes) of the container's versions container (0, 0 when none)."""
        hidden = versions_container(target.container)
        head = self.mw.sub(environ, target, "HEAD", f"/v1/{target.account}/{hidden}",
                           trusted=True)
        close_iter(head.app_iter)
        if not 200 <= head.status < 300:
            return 0, 0
        headers = header_map(head)

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
        response = call(self.mw.app, env)
        headers = header_map(response)
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
            out = without_headers(out, ["X-Container-Bytes-Used"])
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
        return call(self.mw.app, dict(environ))

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
        headers = without_headers(headers, ["Content-Type", "Content-Length"])
        if not rows and fmt == "plain":
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            return empty(204, headers)
        body, content_type = render(rows, fmt, container)
        headers.append(("Content-Type", content_type))
        headers.append(("Content-Length", str(len(body))))
        return RawResponse(200, headers, [body])

    def container_delete(self, environ, target: Target):
        state = self.mw.container_state(environ, target.account, target.container, True)
        if state.versioning is None:
            return None
        denial = self.mw.authorize(environ, "DELETE", target, state)
        if denial is not None:
            return denial
        objects, _bytes = self._hidden_counts(environ, target)
        if objects:
            return error(409, "container still has versions: delete them first")
        response = call(self.mw.app, dict(environ))
        self.mw.forget_container(target.account, target.container)
        if 200 <= response.status < 300:
            hidden = versions_container(target.container)
            gone = self.mw.sub(environ, target, "DELETE", f"/v1/{target.account}/{hidden}",
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
                response = self.mw.sub(environ, target, "GET",
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
        first = self.mw.sub(environ, target, "GET",
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

