"""A small signed JSON-over-HTTP client used between the compute API and the agents.

Under eventlet (the servers monkey-patch) these calls are green. Bodies are small JSON
documents; responses are capped at `MAX_RESPONSE` bytes.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from compute.service_auth import sign_headers

MAX_RESPONSE = 4 * 1024 * 1024


class ServiceUnavailable(Exception):
    """The peer could not be reached (connection refused, timeout, ...)."""


class ServiceError(Exception):
    """The peer answered with an error status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


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
    data = b"" if body is None else json.dumps(body).encode("utf-8")
    signed_path = urllib.parse.urlsplit(base_url.rstrip("/") + path)
    path_qs = signed_path.path + (("?" + signed_path.query) if signed_path.query else "")
    headers = {"Content-Type": "application/json",
               **sign_headers(secret, method, target, path_qs, data)}
    request = urllib.request.Request(
        base_url.rstrip("/") + path, data=data if body is not None else None,
        method=method, headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_RESPONSE)
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except (ValueError, AttributeError):
            pass
        raise ServiceError(exc.code, str(detail)[:500]) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceUnavailable(f"{base_url}: {getattr(exc, 'reason', exc)}") from None
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ServiceError(502, f"{base_url}{path}: answer is not JSON") from None
