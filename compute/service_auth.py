"""The service credential between the compute API and its agents: HMAC-signed requests.

Both sides hold the same `service_secret`. A request carries `X-Brume-Service-Time` (unix
seconds), `X-Brume-Service-Nonce` (random, once per request), `X-Brume-Service-Target` (whom
it is for) and `X-Brume-Service-Signature`, the hex HMAC-SHA256 of
"METHOD\\nTARGET\\nPATH?QUERY\\nTIME\\nNONCE\\nsha256(body)". The secret itself never travels.

A `ServiceVerifier` accepts a signature only
- within `MAX_SKEW` seconds of its time,
- when its target is the receiver's own name (`agent_target(host)` for an agent,
  `API_TARGET` for the compute API), so a request signed for agent hv1 is refused by hv2,
- and once: it remembers every nonce it accepted until that nonce's time leaves the window,
  so a captured request sent again is refused (401). Requests signed before the receiver
  started are refused too (a restarted receiver has forgotten the nonces it saw before), and
  so are those older than the oldest nonce it had to forget when `max_nonces` was reached.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict

TIME_HEADER = "X-Brume-Service-Time"
NONCE_HEADER = "X-Brume-Service-Nonce"
TARGET_HEADER = "X-Brume-Service-Target"
SIGNATURE_HEADER = "X-Brume-Service-Signature"
MAX_SKEW = 300.0
MAX_NONCES = 100_000
API_TARGET = "compute-api"
_NONCE_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)
_STAMP_RE = re.compile(r"[0-9]{1,12}\.[0-9]{3}", re.ASCII)


def agent_target(host: str) -> str:
    """The target name of the agent of hypervisor `host`."""
    return f"agent:{host}"


def is_host_name(name: str) -> bool:
    """Whether `name` can name a hypervisor: 1-255 printable ASCII characters without spaces
    or slashes, so that it fits in a URL path segment and in `TARGET_HEADER`."""
    return 0 < len(name) <= 255 and name.isascii() and name.isprintable() \
        and " " not in name and "/" not in name


def _signature(secret: str, method: str, target: str, path: str, stamp: str, nonce: str,
               body: bytes) -> str:
    message = "\n".join((method.upper(), target, path, stamp, nonce,
                         hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(secret: str, method: str, target: str, path: str, body: bytes,
                 now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """Headers signing a request for `target` (`path` includes the query string)."""
    stamp = "%.3f" % (time.time() if now is None else now)
    nonce = secrets.token_hex(16) if nonce is None else nonce
    return {
        TIME_HEADER: stamp,
        NONCE_HEADER: nonce,
        TARGET_HEADER: target,
        SIGNATURE_HEADER: _signature(secret, method, target, path, stamp, nonce, body),
    }


class ServiceVerifier:
    """Checks signed requests addressed to `target`; refuses replays within the window."""

    def __init__(self, secret: str, target: str, max_skew: float = MAX_SKEW,
                 max_nonces: int = MAX_NONCES, now: float | None = None):
        self.secret = secret
        self.target = target
        self.max_skew = max_skew
        self.max_nonces = max_nonces
        # Signatures from this time or older are refused: nonces were not remembered then.
        # (A millisecond before the start: stamps have millisecond precision.)
        self.not_before = (time.time() if now is None else now) - 0.001
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> its time, oldest first

    def refusal(self, method: str, path: str, body: bytes, headers,
                now: float | None = None) -> str:
        """'' when the request is signed for us, fresh and new; else why not (one line)."""
        stamp = headers.get(TIME_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        target = headers.get(TARGET_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not (_STAMP_RE.fullmatch(stamp) and _NONCE_RE.fullmatch(nonce) and signature):
            return "missing or malformed service signature"
        when = float(stamp)
        now = time.time() if now is None else now
        if abs(now - when) > self.max_skew:
            return "service signature expired"
        expected = _signature(self.secret, method, target, path, stamp, nonce, body)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return "bad service signature"
        if target != self.target:
            return f"service signature is for another target ({target[:64]!r})"
        self._forget_before(now - self.max_skew)
        if when <= self.not_before or nonce in self._seen:
            return "replayed service request"
        self._seen[nonce] = when
        if len(self._seen) > self.max_nonces:
            _oldest, oldest_time = self._seen.popitem(last=False)
            self.not_before = max(self.not_before, oldest_time)
        return ""

    def _forget_before(self, horizon: float) -> None:
        seen = self._seen
        while seen:
            nonce, when = next(iter(seen.items()))
            if when >= horizon:
                break
            del seen[nonce]
