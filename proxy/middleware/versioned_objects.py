"""Object versioning, object side: versioned writes, deletes, reads and `?version-id`.

`VersionedObjects` serves object requests in a container whose versioning was ever set: a
PUT stores a new version and leaves a pointer, a DELETE stores a delete marker, GET/HEAD
follow the pointer, and `?version-id=` reads, deletes, restores or updates one version
(owners only). Objects written while versioning was off are the `null` version, archived
when a versioned write replaces them. Sub-requests go through the filter (`mw`).
"""
from __future__ import annotations

import mimetypes
from urllib.parse import parse_qs, quote

from common.timestamp import Timestamp
from proxy.environ_keys import (
    AUTHORIZE_KEY,
    AUTHORIZE_OVERRIDE_KEY,
    OWNER_KEY,
    SYSMETA_KEY,
)
from proxy.middleware.copy import IterReader
from proxy.middleware.version_names import (
    DELETE_MARKER_CONTENT_TYPE,
    NULL_VERSION,
    POINTER_SYSMETA,
    check_version_id,
    pointer_listing_etag,
    version_object,
    versions_container,
)
from proxy.middleware.version_state import ContainerState, header_map, without_headers
from proxy.object_headers import OVERRIDE_ETAG, OVERRIDE_SIZE, lower_headers
from proxy.responses import RawResponse, close_iter, empty, error
from proxy.subrequest import allow_as_owner, call
from proxy.target import Target

CARRIED_ON_ARCHIVE = ("content-type", "content-encoding", "content-disposition",
                      "x-object-manifest", "x-static-large-object", "etag")
MY_SYSMETA = (POINTER_SYSMETA, OVERRIDE_ETAG)


class VersionedObjects:
    def __init__(self, mw):
        self.mw = mw  # the ObjectVersioning filter: sub-requests, container state, authorize

    def request(self, environ, target: Target, method: str):
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
            state = self.mw.container_state(environ, target.account, target.container)
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
        head = self.mw.sub(environ, target, "HEAD", main, sysmeta=True, trusted=True)
        close_iter(head.app_iter)
        return head.status, header_map(head)

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
        env[AUTHORIZE_KEY] = self.mw.versions_authorizer(environ, target)
        return env

    def _serve_version(self, environ, target: Target, method: str, version_id: str,
                       latest: bool):
        _main, hidden = self._paths(target)
        path = f"{hidden}/{version_object(target.obj, version_id)}"
        env = self._version_env(environ, target, method, path)
        env[SYSMETA_KEY] = True
        response = call(self.mw.app, env)
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
        head = self.mw.sub(environ, target, "HEAD", main, sysmeta=True)
        close_iter(head.app_iter)
        pointer = header_map(head).get(POINTER_SYSMETA)
        if pointer is None or not 200 <= head.status < 300:
            return None
        return self._serve_version(environ, target, method, pointer, latest=True)

    def _archive_null(self, environ, target: Target, headers: dict):
        """Keep the container's plain object as a version before it is replaced."""
        stamp = headers.get("x-timestamp")
        if stamp is None or check_version_id(stamp) is None:
            stamp = Timestamp.now().normal
        main, hidden = self._paths(target)
        source = self.mw.sub(environ, target, "GET", main, sysmeta=True, trusted=True)
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
        length = int(header_map(source).get("content-length", "0") or 0)
        try:
            put = self.mw.sub(environ, target, "PUT",
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
        put = self.mw.sub(environ, target, "PUT", main, headers, content_length=0,
                          internal=True, trusted=True)
        close_iter(put.app_iter)
        return put

    def put_version(self, environ, target: Target, state: ContainerState):
        denial = self.mw.authorize(environ, "PUT", target, state)
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
        put = call(self.mw.app, env)
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
        out = without_headers(put.headers, ["Content-Length"])
        out.append(("X-Object-Version-Id", version_id))
        return empty(201, out)

    def _version_size(self, environ, target: Target, version_id: str) -> int:
        _main, hidden = self._paths(target)
        head = self.mw.sub(environ, target, "HEAD",
                           f"{hidden}/{version_object(target.obj, version_id)}", trusted=True)
        close_iter(head.app_iter)
        text = header_map(head).get("content-length", "0")
        return int(text) if text.isdigit() else 0

    def delete_latest(self, environ, target: Target, state: ContainerState):
        denial = self.mw.authorize(environ, "DELETE", target, state)
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
        marker = self.mw.sub(environ, target, "PUT",
                             f"{hidden}/{version_object(target.obj, version_id)}",
                             {"content-type": DELETE_MARKER_CONTENT_TYPE}, content_length=0,
                             trusted=True)
        close_iter(marker.app_iter)
        if marker.status != 201:
            return error(503, "could not store the delete marker")
        if exists:
            gone = self.mw.sub(environ, target, "DELETE", main, trusted=True)
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
        denial = self.mw.authorize(environ, "POST", target, state)
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
        response = call(self.mw.app, env)
        if not 200 <= response.status < 300 or not expiry:
            return response
        close_iter(response.app_iter)
        expire = self.mw.sub(environ, target, "POST", main, expiry, trusted=True)
        return expire

    # ---- ?version-id= ------------------------------------------------------------------

    def version_request(self, environ, target: Target, method: str, version_id: str):
        if method not in ("GET", "HEAD", "PUT", "DELETE", "POST"):
            return error(400, "version-id is for GET, HEAD, PUT, POST and DELETE")
        state = self.mw.container_state(environ, target.account, target.container)
        denial = self.mw.authorize(environ, method, target, state)
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
        response = call(self.mw.app, env)
        return RawResponse(response.status, self._strip_sysmeta(environ, response.headers)
                           + [("X-Object-Version-Id", NULL_VERSION)], response.app_iter)

    def delete_version(self, environ, target: Target, version_id: str):
        main, hidden = self._paths(target)
        status, current = self._head_main(environ, target)
        gone = self.mw.sub(environ, target, "DELETE",
                           f"{hidden}/{version_object(target.obj, version_id)}", trusted=True)
        close_iter(gone.app_iter)
        if 200 <= status < 300 and current.get(POINTER_SYSMETA) == version_id:
            unlinked = self.mw.sub(environ, target, "DELETE", main, trusted=True)
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
        head = self.mw.sub(environ, target, "HEAD",
                           f"{hidden}/{version_object(target.obj, version_id)}",
                           sysmeta=True, trusted=True)
        close_iter(head.app_iter)
        if head.status == 404:
            return error(404, "no such version")
        if not 200 <= head.status < 300:
            return error(head.status)
        headers = header_map(head)
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


