"""Signed JSON calls between the compute API and the agents, on `common.http_client`.

Each request is signed for its receiver (`compute.service_auth`: a fresh nonce per attempt,
so a retried connect is not refused as a replay). Bodies are small JSON documents; answers
are capped at `MAX_RESPONSE` bytes. Every failure is `common.http_client.HTTPClientError`:
`status` None when the peer could not be reached, else its status with `detail` the peer's
`{"error": ...}` message.
"""
from __future__ import annotations

import json

from common.http_client import HTTPClient, HTTPClientError
from compute.service_auth import sign_headers

MAX_RESPONSE = 4 * 1024 * 1024

CLIENT = HTTPClient(retries=2, max_body=MAX_RESPONSE)


def _peer_error(exc: HTTPClientError) -> HTTPClientError:
    """The same error with the peer's JSON `error` message as its detail."""
    detail = exc.body.decode("utf-8", "replace")
    try:
        detail = json.loads(detail).get("error", detail)
    except (ValueError, AttributeError):
        pass
    detail = str(detail)[:500]
    return HTTPClientError(f"HTTP {exc.status}: {detail}", exc.status, exc.reason, exc.body,
                           detail)


def call(
    base_url: str,
    method: str,
    path: str,
    secret: str,
    body: dict | None = None,
    timeout: float = 30.0,
    *,
    target: str,
) -> dict:
    """Send a request signed for `target` (the receiver's name, see compute.service_auth);
    return the decoded JSON answer ({} for an empty body)."""
    data = None if body is None else json.dumps(body).encode("utf-8")

    def sign(method: str, request_target: str, headers: dict, sent: bytes | None) -> dict:
        return {**headers, **sign_headers(secret, method, target, request_target, sent or b"")}

    headers = {"Content-Type": "application/json"}
    try:
        response = CLIENT.request(method, base_url.rstrip("/") + path, body=data,
                                  headers=headers, sign=sign, timeout=timeout,
                                  expect=range(200, 300))
    except HTTPClientError as exc:
        if exc.status is None:
            raise
        raise _peer_error(exc) from None
    if not response.body:
        return {}
    try:
        return json.loads(response.body)
    except ValueError:
        raise HTTPClientError(f"{base_url}{path}: answer is not JSON", 502) from None
