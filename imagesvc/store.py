"""HTTP client of the object store (the proxy's Swift API), as the image service's user.

The service authenticates once at `auth_url` as its service user, keeps the token until
shortly before it expires, and reads and writes objects in its store account. Bodies go out
chunked from an iterator and come back as a stream, so nothing is held whole in memory. Every
failure becomes a `StoreError` with a one-line message.
"""
from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

CHUNK_SIZE = 1024 * 1024
TOKEN_MARGIN = 60.0
RETRY_DELAYS = (0.5, 2.0)
DEFAULT_TOKEN_LIFETIME = 3600.0

log = logging.getLogger("brume.imagesvc.store")


class StoreError(Exception):
    """The object store failed or refused a request; the message is one line."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    path: str  # e.g. /v1/AUTH_images

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(f"bad store URL {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout)

    def with_account(self, account: str) -> Endpoint:
        """The same proxy, another account: /v1/<account> (quoted: one path segment)."""
        return Endpoint(self.scheme, self.host, self.port,
                        f"/v1/{urllib.parse.quote(account, safe='')}")


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="/")


class StreamedObject:
    """An open GET response: iterate for the bytes, `close()` when done."""

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self.conn = conn
        self.response = response
        length = response.getheader("Content-Length")
        self.length = int(length) if length and length.isdigit() else None
        self.etag = (response.getheader("ETag") or "").strip('"')

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        return self.response.read(size)

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self.response.read(CHUNK_SIZE)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.response.close()
        self.conn.close()


class ObjectStore:
    def __init__(self, auth_url: str, user: str, key: str, store_account: str = "",
                 timeout: float = 60.0):
        self.auth_url = auth_url
        self.user = user
        self.key = key
        self.store_account = store_account
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self._endpoint: Endpoint | None = None
        self._containers_ready: set[str] = set()

    # -- auth --------------------------------------------------------------------------

    def _authenticate(self) -> None:
        auth = Endpoint.parse(self.auth_url)
        conn = auth.connect(self.timeout)
        try:
            conn.request("GET", urllib.parse.urlsplit(self.auth_url).path or "/",
                         headers={"X-Auth-User": self.user, "X-Auth-Key": self.key})
            response = conn.getresponse()
            response.read()
        except OSError as exc:
            raise StoreError(f"cannot reach the store's auth at {self.auth_url}: {exc}") from None
        finally:
            conn.close()
        if response.status // 100 != 2:
            raise StoreError(f"store auth for {self.user} failed: HTTP {response.status}")
        token = response.getheader("X-Auth-Token")
        storage_url = response.getheader("X-Storage-Url")
        if not token or not storage_url:
            raise StoreError("store auth answered without a token or storage URL")
        lifetime = response.getheader("X-Auth-Token-Expires")
        try:
            seconds = float(lifetime) if lifetime else DEFAULT_TOKEN_LIFETIME
        except ValueError:
            seconds = DEFAULT_TOKEN_LIFETIME
        endpoint = Endpoint.parse(storage_url)
        if self.store_account:
            endpoint = endpoint.with_account(self.store_account)
        self._token = token
        self._token_expires = time.monotonic() + seconds
        self._endpoint = endpoint

    def credentials(self) -> tuple[str, Endpoint]:
        with self._lock:
            if self._token is None or time.monotonic() > self._token_expires - TOKEN_MARGIN:
                self._authenticate()
            return self._token, self._endpoint

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None

    # -- requests ----------------------------------------------------------------------

    def _request(self, method: str, path: str, body=None, headers=None, stream=False,
                 endpoint: Endpoint | None = None, token: str | None = None):
        """One request. `path` is relative to the account (or absolute with `endpoint`)."""
        for attempt in (1, 2):
            if token is None:
                service_token, account = self.credentials()
            else:
                service_token, account = token, None
            target = endpoint or account
            url = target.path + path if endpoint is None else path
            all_headers = {"X-Auth-Token": service_token, **(headers or {})}
            conn = target.connect(self.timeout)
            try:
                chunked = body is not None and not isinstance(body, bytes | bytearray)
                if chunked and "Content-Length" in all_headers:
                    conn.putrequest(method, url, skip_accept_encoding=True)
                    for name, value in all_headers.items():
                        conn.putheader(name, value)
                    conn.endheaders()
                    for chunk in body:
                        conn.send(chunk)
                else:
                    conn.request(method, url, body=body, headers=all_headers,
                                 encode_chunked=chunked)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise StoreError(f"store {method} {url} failed: {exc}") from None
            except BaseException:
                # The body's producer gave up (client went away, upload rejected): drop the
                # connection mid-body so the store never commits a partial object.
                conn.close()
                raise
            if response.status == 401 and token is None and attempt == 1 and not chunked:
                response.read()
                conn.close()
                self._forget_token()
                continue
            if stream and response.status // 100 == 2:
                return StreamedObject(conn, response)
            try:
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise StoreError(f"store {method} {url} failed: {exc}") from None
            finally:
                conn.close()
            return response, data
        raise StoreError(f"store {method} {path} unauthorized")

    def _replayable(self, method: str, path: str, **kwargs):
        """`_request` for requests that can be sent again (no streamed body): retried after
        a connection failure or a 5xx, which a busy or recovering cluster gives at times."""
        for delay in (*RETRY_DELAYS, None):
            try:
                result = self._request(method, path, **kwargs)
            except StoreError as exc:
                if delay is None:
                    raise
                log.info("%s; retrying in %.1fs", exc, delay)
                time.sleep(delay)
                continue
            if isinstance(result, tuple) and result[0].status >= 500 and delay is not None:
                log.info("store %s %s: HTTP %s; retrying in %.1fs", method, path,
                         result[0].status, delay)
                time.sleep(delay)
                continue
            return result
        raise AssertionError("unreachable")

    def ensure_container(self, container: str) -> None:
        if container in self._containers_ready:
            return
        response, _ = self._replayable("PUT", "/" + quote(container),
                                    headers={"Content-Length": "0"})
        if response.status // 100 != 2:
            raise StoreError(f"cannot create container {container}: HTTP {response.status}",
                             response.status)
        self._containers_ready.add(container)

    def put_object(self, container: str, name: str, chunks: Iterable[bytes],
                   length: int | None = None, content_type="application/octet-stream") -> str:
        """PUT a streamed body (chunked unless `length` is given); returns the ETag."""
        headers = {"Content-Type": content_type}
        if length is not None:
            headers["Content-Length"] = str(length)
        response, _ = self._request("PUT", f"/{quote(container)}/{quote(name)}",
                                    body=iter(chunks), headers=headers)
        if response.status // 100 != 2:
            raise StoreError(f"store refused PUT of {container}/{name}: HTTP {response.status}",
                             response.status)
        return (response.getheader("ETag") or "").strip('"')

    def put_manifest(self, container: str, name: str, segments: list[dict]) -> None:
        body = json.dumps(segments).encode()
        response, data = self._replayable(
            "PUT", f"/{quote(container)}/{quote(name)}?multipart-manifest=put", body=body,
            headers={"Content-Type": "application/octet-stream",
                     "Content-Length": str(len(body))},
        )
        if response.status // 100 != 2:
            reason = data.decode("utf-8", "replace").strip().splitlines()[:1]
            raise StoreError(f"store refused the manifest of {name}: HTTP {response.status} "
                             f"{reason[0] if reason else ''}".strip(), response.status)

    def delete_object(self, container: str, name: str) -> bool:
        """DELETE; True when gone (404 counts as gone)."""
        try:
            response, _ = self._replayable("DELETE", f"/{quote(container)}/{quote(name)}")
        except StoreError as exc:
            log.warning("%s", exc)
            return False
        return response.status // 100 == 2 or response.status == 404

    def list_objects(self, container: str, prefix: str) -> list[str]:
        """Names in `container` starting with `prefix` (all pages)."""
        names: list[str] = []
        marker = ""
        while True:
            query = urllib.parse.urlencode({"format": "json", "prefix": prefix,
                                            "marker": marker})
            response, data = self._replayable("GET", f"/{quote(container)}?{query}")
            if response.status == 404:
                return names
            if response.status // 100 != 2:
                raise StoreError(f"cannot list {container}: HTTP {response.status}",
                                 response.status)
            page = [entry["name"] for entry in json.loads(data or b"[]")]
            if not page:
                return names
            names.extend(page)
            marker = page[-1]

    def get_object(self, container: str, name: str) -> StreamedObject:
        result = self._replayable("GET", f"/{quote(container)}/{quote(name)}", stream=True)
        if isinstance(result, StreamedObject):
            return result
        response, _ = result
        raise StoreError(f"store GET of {container}/{name}: HTTP {response.status}",
                         response.status)

    def get_user_object(self, account: str, container: str, name: str,
                        user_token: str) -> StreamedObject:
        """GET an object of a user's account with the user's own token (their permissions)."""
        endpoint = Endpoint.parse(self.auth_url).with_account(account)
        path = f"{endpoint.path}/{quote(container)}/{quote(name)}"
        result = self._replayable("GET", path, stream=True, endpoint=endpoint, token=user_token)
        if isinstance(result, StreamedObject):
            return result
        response, _ = result
        raise StoreError(f"cannot read {container}/{name}: HTTP {response.status}",
                         response.status)
