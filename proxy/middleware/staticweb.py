"""`staticweb`: a container served as a web site, with index pages, listings and error pages.

    [filter:staticweb]
    use = egg:brume#staticweb

The container's metadata says what to do (`proxy.web_container`): `X-Container-Meta-Web-
Index`, `-Web-Error`, `-Web-Listings`, `-Web-Listings-Css`, `-Web-Directory-Type`. Only GET
and HEAD in web mode are changed: anonymous requests, and a user's with `X-Web-Mode: true`;
everything else passes untouched. In web mode:

- `<container>` and a directory without its trailing slash redirect (301) to it with one (a
  directory is a marker object of the directory type, or a prefix that has objects);
- `<container>/` and `<dir>/` serve `<dir>/<index>` when it exists, else an HTML listing
  (`proxy.web_listing`) when listings are on and the directory has entries, else 404;
- a 404 or 401 is answered with the `<status><error>` object when `Web-Error` is set.

Every object and listing is read by a sub-request as the caller (anonymous visitors need the
container's `.r:*`, and `.rlistings` for listings), so this filter grants nothing: it sits
below auth. The web settings themselves are read with `proxy.metadata_lookup`.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

from common.config import load_options
from proxy import metadata_lookup, subrequest
from proxy.environ_keys import CLIENT_PATH_KEY, IDENTITY_KEY, TEMPURL_QUERY_KEY, WEB_READ_KEY
from proxy.responses import RawResponse, close_iter, error
from proxy.target import parse_target
from proxy.tempurl_rules import carried_query
from proxy.web_container import (
    WebConfig,
    media_type,
    redirect_location,
    web_config,
    web_mode,
)
from proxy.web_listing import page_head, page_tail, rows

LISTING_PAGE = 1000  # entries per listing sub-request (the page streams page by page)
MAX_LISTING_BYTES = 8 * 1024 * 1024  # a JSON page bigger than this is not ours
ERROR_STATUSES = (401, 404)
CARRIED_HEADERS = ("HTTP_REFERER", "HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                   "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


def _close(response: RawResponse) -> None:
    close_iter(response.app_iter)


class StaticWeb:
    def __init__(self, app):
        self.app = app
        self.capabilities = {"staticweb": {}}

    def __call__(self, environ, start_response):
        return self.handle(environ)(environ, start_response)

    def handle(self, environ):
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return self.app
        path = environ.get("PATH_INFO", "")
        _version, target, reason = parse_target(path)
        if reason or target is None or target.container is None:
            return self.app
        if not web_mode(environ.get(IDENTITY_KEY) is not None,
                        environ.get("HTTP_X_WEB_MODE")):
            return self.app
        found = metadata_lookup.lookup(self.app, environ)
        if not found.found:
            return self.app
        config = web_config(found.headers)
        if not (config.serves_web or config.error):
            return self.app
        if target.obj is None:
            if not config.serves_web:
                return self.app
            if not path.endswith("/"):
                return self._redirect(environ)
            return self._directory(environ, target, "", config)
        if target.obj.endswith("/") and config.serves_web:
            return self._directory(environ, target, target.obj, config)
        return self._object(environ, target, config)

    # -- the three kinds of answer

    def _redirect(self, environ) -> RawResponse:
        location = redirect_location(
            environ.get("wsgi.url_scheme", "http"),
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost"),
            environ.get(CLIENT_PATH_KEY, environ.get("PATH_INFO", "")),
            environ.get("QUERY_STRING", ""))
        body = b"Moved Permanently: a directory's address ends with a slash\n"
        return RawResponse(301, [("Location", location),
                                 ("Content-Type", "text/plain; charset=UTF-8"),
                                 ("Content-Length", str(len(body)))], [body])

    def _directory(self, environ, target, prefix: str, config: WebConfig):
        if config.index:
            response = self._read_object(environ, target, prefix + config.index)
            if response.status != 404:
                if response.status in ERROR_STATUSES:
                    _close(response)
                    return self._error_page(environ, target, response.status, config)
                return response
            _close(response)
        if not config.listings:
            return self._error_page(environ, target, 404, config)
        status, entries = self._list(environ, target, prefix, "", LISTING_PAGE)
        if status // 100 != 2:
            return self._error_page(environ, target, status, config) \
                if status in ERROR_STATUSES else error(status)
        if prefix and not entries:
            return self._error_page(environ, target, 404, config)
        title = self._decoded(environ.get("PATH_INFO", ""))
        body = self._listing_body(environ, target, prefix, entries, title, config)
        return RawResponse(200, [("Content-Type", "text/html; charset=UTF-8")], body)

    def _object(self, environ, target, config: WebConfig):
        response = subrequest.call(self.app, environ)
        if response.status // 100 == 2:
            if config.serves_web and \
                    media_type(response.header("Content-Type")) == config.directory_type:
                _close(response)
                return self._redirect(environ)
            return response
        if response.status != 404:
            if response.status in ERROR_STATUSES:
                _close(response)
                return self._error_page(environ, target, response.status, config)
            return response
        _close(response)
        if config.serves_web:
            status, entries = self._list(environ, target, target.obj + "/", "", 1)
            if status // 100 == 2 and entries:
                return self._redirect(environ)
        return self._error_page(environ, target, 404, config)

    # -- sub-requests, as the caller

    def _sub_environ(self, environ, method: str, path: str, query: str = "") -> dict:
        headers = {}
        for key in CARRIED_HEADERS:
            if key in environ:
                headers[key[5:].replace("_", "-")] = environ[key]
        sub = subrequest.make_environ(environ, method, path, headers, query)
        sub[WEB_READ_KEY] = True
        return sub

    def _read_object(self, environ, target, name: str) -> RawResponse:
        path = f"/v1/{target.account}/{target.container}/{name}"
        return subrequest.call(self.app, self._sub_environ(environ, environ["REQUEST_METHOD"],
                                                           path))

    def _list(self, environ, target, prefix: str, marker: str, limit: int):
        """-> (status, entries) of one page of the container's listing under `prefix`."""
        query = urlencode({"format": "json", "delimiter": "/", "prefix": prefix,
                           "marker": marker, "limit": str(limit)})
        path = f"/v1/{target.account}/{target.container}"
        response = subrequest.call(self.app, self._sub_environ(environ, "GET", path, query))
        try:
            if response.status // 100 != 2:
                return response.status, []
            chunks, size = [], 0
            for chunk in response.app_iter:
                size += len(chunk)
                if size > MAX_LISTING_BYTES:
                    return 502, []
                chunks.append(chunk)
        finally:
            _close(response)
        try:
            entries = json.loads(b"".join(chunks) or b"[]")
        except ValueError:
            return 502, []
        return response.status, entries if isinstance(entries, list) else []

    def _listing_body(self, environ, target, prefix, entries, title, config):
        query = environ.get(TEMPURL_QUERY_KEY)
        link_query, parent = "", bool(prefix)
        if query is not None and query.prefix is not None:
            # Signed for a prefix: links carry the signature, and nothing links above it.
            link_query = carried_query(query)
            parent = len(prefix) > len(query.prefix)
        yield page_head(title, config.listings_css, prefix, link_query, parent)
        while True:
            yield rows(entries, prefix, link_query)
            if len(entries) < LISTING_PAGE:
                break
            last = entries[-1] if isinstance(entries[-1], dict) else {}
            marker = last.get("name") or last.get("subdir")
            if not isinstance(marker, str):
                break
            status, entries = self._list(environ, target, prefix, marker, LISTING_PAGE)
            if status // 100 != 2 or not entries:
                break
        yield page_tail()

    def _error_page(self, environ, target, status: int, config: WebConfig) -> RawResponse:
        if config.error and status in ERROR_STATUSES:
            page = self._read_object(environ, target, f"{status}{config.error}")
            if page.status // 100 == 2:
                kept = [(name, value) for name, value in page.headers
                        if name.lower() in ("content-type", "content-length")]
                return RawResponse(status, kept, page.app_iter)
            _close(page)
        return error(status)

    @staticmethod
    def _decoded(path_info: str) -> str:
        return path_info.encode("latin-1", "replace").decode("utf-8", "replace")


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:staticweb"), [],
                 global_conf.get("__file__", "<config>"))
    return StaticWeb
