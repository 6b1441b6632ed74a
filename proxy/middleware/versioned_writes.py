"""`versioned_writes`: Swift's legacy object versioning (X-Versions-Location, X-History-Location).

    [filter:versioned_writes]
    use = egg:brume#versioned_writes
    recheck_container_versioning = 5

A container PUT/POST with `X-Versions-Location: <archive container>` (stack mode) or
`X-History-Location` (history mode) turns versioning on (an empty value or `X-Remove-...`
turns it off); HEAD/GET of the container show the header back. In such a container an
object PUT first copies the object it replaces into the archive container as
`<3-hex length><name>/<timestamp>` (`version_archive`), then writes. A DELETE in stack mode
copies the newest archived version back over the object and removes it from the archive (a
delete marker on top is removed instead); with nothing archived it deletes. A DELETE in
history mode archives the object, adds a delete marker and deletes.

The request is authorized first, as its user, against the container's ACLs (a user who may
write the container need not be able to touch the archive); the archive copies, restores
and listings are then done on the user's behalf. Copies are streamed, GET into PUT, and keep
content type, metadata, sysmeta (an SLO manifest stays one), a DLO manifest header and a
symlink's target (read with `?symlink=get`): the middleware sits above `symlink`, below
`slo`, `dlo` and `copy`, so it sees manifests as stored and a COPY as the PUT it makes.
A failed archive copy fails the write (nothing is overwritten unsaved). A container's setting
and ACLs come from a HEAD done on the user's behalf, remembered
`recheck_container_versioning` seconds (a container write through this proxy forgets it).
"""
from __future__ import annotations

import json
import time
from urllib.parse import quote

from common.config import Option, load_options, non_negative_float
from common.timestamp import Timestamp
from proxy.acl import parse_acl
from proxy.environ_keys import AUTHORIZE_KEY, INTERNAL_KEY, SYSMETA_KEY
from proxy.get_resume import StreamCut
from proxy.info_cache import EntityInfo
from proxy.middleware.copy import IterReader
from proxy.middleware.version_archive import (
    COPIED_HEADERS,
    DELETE_MARKER_TYPE,
    HISTORY,
    SettingError,
    archive_name,
    archive_prefix,
    client_setting_header,
    is_delete_marker,
    setting_from_headers,
    setting_of,
)
from proxy.object_headers import lower_headers
from proxy.responses import RawResponse, close_iter, error
from proxy.segments import read_body
from proxy.subrequest import allow_as_owner, call, make_environ
from proxy.target import parse_target

LISTING_PAGE = 20
MAX_LISTING_BYTES = 4 * 1024 * 1024



def _strip_sysmeta(headers: list) -> list:
    return [(k, v) for k, v in headers if not k.lower().startswith("x-container-sysmeta-")]


class SettingCache:
    """Containers' (setting, ACL info), remembered `ttl` seconds by this proxy; a container
    write through this proxy forgets its entry at once (other proxies: within `ttl`)."""

    def __init__(self, ttl: float = 5.0, max_entries: int = 10000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], tuple[float, tuple]] = {}

    def get(self, key):
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key, value) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def forget(self, key) -> None:
        self._entries.pop(key, None)


class VersionedWrites:
    def __init__(self, app, cache_ttl: float = 5.0):
        self.app = app
        self.settings = SettingCache(cache_ttl)
        self.capabilities = {"versioned_writes": {
            "allowed_flags": ["x-versions-location", "x-history-location"]}}

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if reason or target is None or target.container is None:
            return self.app(environ, start_response)
        if target.obj is None:
            if method in ("PUT", "POST", "DELETE"):
                self.settings.forget((target.account, target.container))
            if method in ("PUT", "POST"):
                return self.write_container(environ)(environ, start_response)
            if method in ("GET", "HEAD"):
                return self.read_container(environ)(environ, start_response)
            return self.app(environ, start_response)
        if method in ("PUT", "DELETE"):
            return self.write_object(environ, target)(environ, start_response)
        return self.app(environ, start_response)

    # -- container settings ----------------------------------------------------------------

    def write_container(self, environ):
        try:
            setting = setting_from_headers(lower_headers(environ))
        except SettingError as exc:
            return error(400, str(exc))
        if setting is None:
            return self.app
        sub = {key: value for key, value in environ.items()
               if key not in ("HTTP_X_VERSIONS_LOCATION", "HTTP_X_HISTORY_LOCATION",
                              "HTTP_X_REMOVE_VERSIONS_LOCATION",
                              "HTTP_X_REMOVE_HISTORY_LOCATION")
               and (environ.get(INTERNAL_KEY) or not key.startswith("HTTP_X_CONTAINER_SYSMETA_"))}
        for name, value in setting.items():
            sub["HTTP_" + name.upper().replace("-", "_")] = value
        sub[INTERNAL_KEY] = True
        return call(self.app, sub)

    def read_container(self, environ):
        asked = bool(environ.get(SYSMETA_KEY))
        sub = dict(environ)
        sub[SYSMETA_KEY] = True
        response = call(self.app, sub)
        setting = setting_of(response.headers)
        if not asked:
            response.headers = _strip_sysmeta(response.headers)
        if setting is not None and 200 <= response.status < 300:
            response.headers.append(client_setting_header(setting))
        return response

    # -- object writes -----------------------------------------------------------------------

    def on_behalf(self, environ, method: str, path: str, headers: dict | None = None,
                  query: str = "", body_input=None, content_length: int | None = None):
        """A sub-request done for the user once the user's own request was authorized."""
        sub = make_environ(environ, method, path, headers, query, body_input, content_length,
                           internal=True)
        sub[AUTHORIZE_KEY] = allow_as_owner
        sub[SYSMETA_KEY] = True
        return sub

    def container_setting(self, environ, target):
        """((archive, mode) or None, EntityInfo of the container for authorization)."""
        key = (target.account, target.container)
        cached = self.settings.get(key)
        if cached is None:
            cached = self._fetch_setting(environ, target)
            if cached[1].exists and self.settings.ttl > 0:
                self.settings.put(key, cached)
        return cached

    def _fetch_setting(self, environ, target):
        response = call(self.app, self.on_behalf(
            environ, "HEAD", f"/v1/{target.account}/{target.container}"))
        close_iter(response.app_iter)
        if not 200 <= response.status < 300:
            return None, EntityInfo(response.status, {})
        info = EntityInfo(response.status, {},
                          parse_acl(response.header("X-Container-Read")),
                          parse_acl(response.header("X-Container-Write")))
        return setting_of(response.headers), info

    def write_object(self, environ, target):
        setting, info = self.container_setting(environ, target)
        authorize = environ.get(AUTHORIZE_KEY)
        if setting is None or authorize is None:
            return self.app
        denial = authorize(environ, environ["REQUEST_METHOD"], target, lambda: info)
        if denial is not None:
            return denial
        archive, mode = setting
        if environ["REQUEST_METHOD"] == "PUT":
            failure = self.archive_current(environ, target, archive)
            return failure if failure is not None else self.app
        if mode == HISTORY:
            failure = self.archive_current(environ, target, archive)
            if failure is not None:
                return failure
            failure = self.put_delete_marker(environ, target, archive)
            return failure if failure is not None else self.app
        return self.restore_previous(environ, target, archive)

    def object_path(self, target) -> str:
        return f"/v1/{target.account}/{target.container}/{target.obj}"

    def copy_object(self, environ, src_path: str, dst_path: str, name_from_timestamp=None):
        """Stream src into dst (as stored); (status of src, failure response or None).

        `name_from_timestamp(ts)`, when given, makes dst from the source's timestamp.
        """
        src = call(self.app, self.on_behalf(environ, "GET", src_path, query="symlink=get"))
        if src.status == 404:
            close_iter(src.app_iter)
            return 404, None
        if src.status != 200:
            close_iter(src.app_iter)
            return src.status, error(src.status if src.status in (401, 403) else 503,
                                     "cannot read the object's current version")
        if name_from_timestamp is not None:
            stamp = src.header("X-Timestamp") or Timestamp.now().normal
            dst_path = name_from_timestamp(Timestamp(stamp).normal)
        headers = {}
        for name, value in src.headers:
            lowered = name.lower()
            if lowered in COPIED_HEADERS or lowered.startswith(
                    ("x-object-meta-", "x-object-sysmeta-")):
                headers[lowered] = value
        if "x-symlink-target" not in headers and src.header("Etag"):
            headers["etag"] = src.header("Etag").strip('"')
        length = int(src.header("Content-Length") or 0)
        try:
            put = call(self.app, self.on_behalf(environ, "PUT", dst_path, headers,
                                                body_input=IterReader(src.app_iter),
                                                content_length=length))
        except StreamCut:
            return 200, error(503, "the object's current version broke while being copied")
        finally:
            close_iter(src.app_iter)
        close_iter(put.app_iter)
        if put.status != 201:
            return 200, error(put.status if put.status in (401, 403, 404, 409) else 503,
                              f"cannot save a version ({put.status})")
        return 200, None

    def archive_current(self, environ, target, archive: str):
        """Copy the object (if any) into the archive; a failure response or None."""
        base = f"/v1/{target.account}/{archive}/"
        _status, failure = self.copy_object(
            environ, self.object_path(target), "",
            lambda stamp: base + archive_name(target.obj, stamp))
        return failure

    def put_delete_marker(self, environ, target, archive: str):
        path = f"/v1/{target.account}/{archive}/" + archive_name(target.obj,
                                                                 Timestamp.now().normal)
        put = call(self.app, self.on_behalf(environ, "PUT", path,
                                            {"content-type": DELETE_MARKER_TYPE},
                                            content_length=0))
        close_iter(put.app_iter)
        if put.status != 201:
            return error(503, f"cannot save a delete marker ({put.status})")
        return None

    def newest_versions(self, environ, target, archive: str):
        """Up to LISTING_PAGE archive entries of the object, newest first (None: failure)."""
        query = (f"format=json&reverse=on&limit={LISTING_PAGE}"
                 f"&prefix={quote(archive_prefix(target.obj))}")
        response = call(self.app, self.on_behalf(
            environ, "GET", f"/v1/{target.account}/{archive}", query=query))
        if response.status in (204, 404):
            close_iter(response.app_iter)
            return []
        if response.status != 200:
            close_iter(response.app_iter)
            return None
        try:
            entries = json.loads(read_body(response.app_iter, MAX_LISTING_BYTES))
        except (ValueError, StreamCut):
            return None
        return [e for e in entries if isinstance(e, dict) and "name" in e]

    def restore_previous(self, environ, target, archive: str):
        """Stack-mode DELETE: the newest archived version replaces the object."""
        entries = self.newest_versions(environ, target, archive)
        if entries is None:
            return error(503, "cannot list the archived versions")
        base = f"/v1/{target.account}/{archive}/"
        if entries and is_delete_marker(entries[0]):
            failure = self.delete_archived(environ, base + entries[0]["name"])
            if failure is not None:
                return failure
            if len(entries) < 2 or is_delete_marker(entries[1]):
                return RawResponse(204, [("Content-Length", "0")], [b""])
            entries = entries[1:]
        for entry in entries:
            if is_delete_marker(entry):
                break
            status, failure = self.copy_object(environ, base + entry["name"],
                                               self.object_path(target))
            if failure is not None:
                return failure
            if status == 404:
                continue  # removed meanwhile: the next older one
            failure = self.delete_archived(environ, base + entry["name"])
            if failure is not None:
                return failure
            return RawResponse(204, [("Content-Length", "0")], [b""])
        return self.app

    def delete_archived(self, environ, path: str):
        response = call(self.app, self.on_behalf(environ, "DELETE", path))
        close_iter(response.app_iter)
        if response.status in (204, 404) or 200 <= response.status < 300:
            return None
        return error(503, f"cannot remove an archived version ({response.status})")


OPTIONS = [Option("recheck_container_versioning", non_negative_float, 5.0,
                  "seconds a container's versioning setting is remembered (0: always ask)")]


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__",
                                                       "filter:versioned_writes"),
                           OPTIONS, global_conf.get("__file__", "<config>"))
    return lambda app: VersionedWrites(app, options["recheck_container_versioning"])
