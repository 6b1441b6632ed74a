"""Where an agent gets image metadata and bytes: the image service, as the service user.

The agent authenticates at the proxy's v1 auth with its service credential (a cloud-admin
user, so it may read every project's images), keeps the token until shortly before it
expires, and retries once with a fresh token on 401. `stream(image_meta)` yields the image's
bytes in 1 MiB chunks from `GET /v2/images/{id}/file`; memory stays bounded.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse

CHUNK = 1024 * 1024


class ImageSourceError(Exception):
    """The image service or auth could not be used; the message is a server fault."""


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageSourceError(f"bad URL {url!r}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return cls(parts.hostname, parts.port, timeout=timeout), parts.path.rstrip("/")


class ServiceToken:
    """A token for the service user, renewed before it expires."""

    def __init__(self, auth_url: str, user: str, key: str, timeout: float = 30.0):
        self.auth_url, self.user, self.key, self.timeout = auth_url, user, key, timeout
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._token is None or time.time() > self._expires - 60:
                self._token, self._expires = self._authenticate()
            return self._token

    def _authenticate(self) -> tuple[str, float]:
        conn, path = _connection(self.auth_url, self.timeout)
        try:
            conn.request("GET", path or "/", headers={"X-Auth-User": self.user,
                                                      "X-Auth-Key": self.key})
            response = conn.getresponse()
            response.read()
        except OSError as exc:
            raise ImageSourceError(f"cannot reach auth at {self.auth_url}: {exc}") from None
        finally:
            conn.close()
        token = response.getheader("X-Auth-Token")
        if response.status != 200 or not token:
            raise ImageSourceError(f"service authentication failed: HTTP {response.status}")
        try:
            life = float(response.getheader("X-Auth-Token-Expires") or 3600)
        except ValueError:
            life = 3600.0
        return token, time.time() + life


class ImageSource:
    def __init__(self, image_url: str, token: ServiceToken, timeout: float = 60.0):
        self.image_url = image_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, path: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        for attempt in range(2):
            conn, base = _connection(self.image_url, self.timeout)
            try:
                conn.request("GET", base + path,
                             headers={"X-Auth-Token": self.token.get(refresh=attempt > 0)})
                response = conn.getresponse()
            except OSError as exc:
                conn.close()
                raise ImageSourceError(f"cannot reach the image service: {exc}") from None
            if response.status == 401 and attempt == 0:
                response.read()
                conn.close()
                continue
            if response.status != 200:
                response.read()
                conn.close()
                raise ImageSourceError(f"image service answered {response.status} for {path}")
            return conn, response
        raise ImageSourceError("image service keeps refusing the service token")

    def get_meta(self, image_id: str) -> dict:
        conn, response = self._request(f"/v2/images/{urllib.parse.quote(image_id)}")
        try:
            return json.loads(response.read())
        except ValueError:
            raise ImageSourceError(f"image service sent bad JSON for {image_id}") from None
        finally:
            conn.close()

    def stream(self, image_meta: dict):
        conn, response = self._request(f"/v2/images/{urllib.parse.quote(image_meta['id'])}/file")
        try:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except OSError as exc:
                    raise ImageSourceError(f"image download cut off: {exc}") from None
                if not chunk:
                    return
                yield chunk
        finally:
            conn.close()
