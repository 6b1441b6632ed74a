"""Swift v1 auth, the one copy every client of the proxy's `/auth/v1.0` uses.

`authenticate(auth_url, user, key)` trades `X-Auth-User`/`X-Auth-Key` for `X-Auth-Token` and
`X-Storage-Url` (and `X-Auth-Token-Expires`, seconds). `V1Session` keeps that token until
`TOKEN_MARGIN` seconds before it expires and sends requests with it through a
`common.http_client.HTTPClient`: an answer of 401 makes it authenticate again and send the
request once more (when its body can be sent again). Every failure is the client's one
error type, `HTTPClientError`, with a one-line message (status 401 for a wrong user or key,
None when the auth URL cannot be reached).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from common.http_client import HTTPClient, HTTPClientError, Response

TOKEN_MARGIN = 60.0
DEFAULT_LIFETIME = 3600.0

_auth_client = HTTPClient(timeout=30.0, retries=1)


@dataclass(frozen=True)
class V1Credentials:
    token: str
    storage_url: str
    expires: float  # time.monotonic() when the token expires


def authenticate(auth_url: str, user: str, key: str, *, client: HTTPClient | None = None,
                 timeout: float | None = None) -> V1Credentials:
    """A fresh token and storage URL for `user`; HTTPClientError with one line otherwise."""
    response = (client or _auth_client).request(
        "GET", auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key}, timeout=timeout,
        max_body=65536)
    if response.status == 401:
        raise HTTPClientError(f"authentication failed at {auth_url}: wrong user or key", 401,
                              response.reason, response.body or b"")
    if not response.ok:
        raise HTTPClientError(f"authentication failed at {auth_url}: HTTP {response.status}",
                              response.status, response.reason, response.body or b"")
    token = response.headers.get("X-Auth-Token")
    storage_url = response.headers.get("X-Storage-Url")
    if not token or not storage_url:
        raise HTTPClientError(f"{auth_url} answered without a token or storage URL",
                              response.status)
    try:
        lifetime = float(response.headers.get("X-Auth-Token-Expires") or DEFAULT_LIFETIME)
    except ValueError:
        lifetime = DEFAULT_LIFETIME
    return V1Credentials(token, storage_url, time.monotonic() + lifetime)


class V1Session:
    """One user's token, renewed before it expires and once after a 401."""

    def __init__(self, auth_url: str, user: str, key: str, *,
                 client: HTTPClient | None = None, timeout: float | None = None):
        self.auth_url = auth_url
        self.user = user
        self.key = key
        self.client = client or _auth_client
        self.timeout = timeout
        self._lock = threading.Lock()
        self._credentials: V1Credentials | None = None

    def credentials(self, refresh: bool = False) -> V1Credentials:
        with self._lock:
            current = self._credentials
            if refresh or current is None or time.monotonic() > current.expires - TOKEN_MARGIN:
                current = self._credentials = authenticate(
                    self.auth_url, self.user, self.key, client=self.client,
                    timeout=self.timeout)
            return current

    def token(self, refresh: bool = False) -> str:
        return self.credentials(refresh).token

    def forget(self) -> None:
        """Drop the token (the next request authenticates again)."""
        with self._lock:
            self._credentials = None

    def request(self, method: str, url: str, *, client: HTTPClient | None = None,
                headers=None, body=None, **kwargs) -> Response:
        """`client.request` (by default the session's own client) with the token; on 401,
        authenticate again and retry once (only when `body` can be sent again: a streamed
        body's 401 is the caller's answer)."""
        client = client or self.client
        replayable = body is None or isinstance(body, bytes | bytearray)
        for attempt in (0, 1):
            token = self.token(refresh=attempt > 0)
            last = attempt > 0 or not replayable
            try:
                response = client.request(
                    method, url, body=body,
                    headers={**(headers or {}), "X-Auth-Token": token}, **kwargs)
            except HTTPClientError as exc:
                if exc.status == 401 and not last:
                    continue
                raise
            if response.status != 401 or last:
                return response
            response.close()
        raise AssertionError("unreachable")
