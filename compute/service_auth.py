"""The service credential between the compute API and its agents: HMAC-signed requests.

Both sides hold the same `service_secret`. A request carries
`X-Brume-Service-Time` (unix seconds) and `X-Brume-Service-Signature`, the hex
HMAC-SHA256 of "METHOD\\nPATH?QUERY\\nTIME\\nsha256(body)". The secret itself never travels,
and a signature is only accepted within `MAX_SKEW` seconds of its time.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import time

TIME_HEADER = "X-Brume-Service-Time"
SIGNATURE_HEADER = "X-Brume-Service-Signature"
MAX_SKEW = 300.0


def _signature(secret: str, method: str, path: str, stamp: str, body: bytes) -> str:
    message = "\n".join((method.upper(), path, stamp, hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(
    secret: str, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    stamp = "%.3f" % (time.time() if now is None else now)
    return {TIME_HEADER: stamp, SIGNATURE_HEADER: _signature(secret, method, path, stamp, body)}


def verify(
    secret: str,
    method: str,
    path: str,
    body: bytes,
    headers,
    now: float | None = None,
) -> bool:
    stamp = headers.get(TIME_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    try:
        when = float(stamp)
    except ValueError:
        return False
    # abs(now - nan) > MAX_SKEW is False: a NaN time must not count as "now".
    if not math.isfinite(when) or abs((time.time() if now is None else now) - when) > MAX_SKEW:
        return False
    if not signature.isascii():  # compare_digest raises on non-ASCII text
        return False
    expected = _signature(secret, method, path, stamp, body)
    return hmac.compare_digest(expected, signature)
