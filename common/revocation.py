"""Revoked tokens: the identity service's revocation events, polled and matched locally.

Tokens are verified locally (signature, expiry), so a token revoked at the identity service
(`DELETE /v3/auth/tokens`, a disabled user, a removed role, ...) would stay valid here until
it expires. When a service sets `revocation_url`, `IdentityPoller` logs in as the
configured service user (an admin: the list is admin-only), fetches
`GET /v3/OS-REVOKE/events?since=...` every `revocation_poll_interval` seconds and adds the
events to a `RevocationList`, which `common.token_format.is_revoked` matches against each
caller's token. A failed poll is logged and retried; the events already known stay in force
(a revocation made while the identity service is unreachable is honoured once it answers
again). Events older than `revocation_keep` seconds can match no live token and are dropped.
"""
from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from common.token_format import RevocationEvent, TokenClaims, is_revoked

log = logging.getLogger("brume.revocation")
FIELDS = ("audit_id", "user_id", "project_id", "app_cred_id")
CLOCK_MARGIN = 60.0  # seconds asked for again at each poll, for clock skew and races
# The identity service renders `issued_before` to the microsecond while a token's issued_at
# is a float: an event revoking one token by its own issue time may come back rounded just
# below it. One microsecond of slack keeps such an event matching its token.
ROUNDING_SLACK = 1e-6


def _timestamp(text) -> float:
    if not isinstance(text, str):
        raise ValueError("issued_before is not a string")
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def parse_events(doc) -> list[RevocationEvent]:
    """The events of a `GET /v3/OS-REVOKE/events` answer; ValueError when malformed."""
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise ValueError("not an events document")
    events = []
    for item in doc["events"]:
        if not isinstance(item, dict):
            raise ValueError("an event is not an object")
        values = {name: item.get(name) for name in FIELDS}
        if not all(value is None or isinstance(value, str) for value in values.values()):
            raise ValueError("an event field is not a string")
        issued_before = _timestamp(item.get("issued_before")) + ROUNDING_SLACK
        events.append(RevocationEvent(issued_before, **values))
    return events


class RevocationList:
    """The revocation events known to this process."""

    def __init__(self, keep_seconds: float = 86400.0):
        self.keep_seconds = keep_seconds
        self._events: set[RevocationEvent] = set()
        self._lock = threading.Lock()
        self.last_success: float | None = None

    def add(self, events, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            before = len(self._events)
            self._events.update(events)
            added = len(self._events) - before
            self._events = {event for event in self._events
                            if event.issued_before >= now - self.keep_seconds}
        return added

    def revoked(self, claims: TokenClaims) -> bool:
        if not self._events:
            return False
        with self._lock:
            events = list(self._events)
        return is_revoked(claims, events)

    def __len__(self) -> int:
        return len(self._events)


class IdentityPoller:
    """Fetches new revocation events from the identity service into a RevocationList."""

    def __init__(self, url: str, user: str, password: str, project: str, domain: str,
                 revocations: RevocationList, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.user, self.password = user, password
        self.project, self.domain = project, domain
        self.revocations = revocations
        self.timeout = timeout
        self._token: str | None = None
        self._token_expires = 0.0

    def service_token(self) -> str:
        """A token of the service user (kept until a minute before it expires)."""
        return self._login()

    def _login(self) -> str:
        if self._token and time.time() < self._token_expires - 60:
            return self._token
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": self.user, "domain": {"name": self.domain}, "password": self.password}}},
            "scope": {"project": {"name": self.project, "domain": {"name": self.domain}}}}}
        request = urllib.request.Request(
            f"{self.url}/v3/auth/tokens?nocatalog", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            token = answer.headers["X-Subject-Token"]
            doc = json.loads(answer.read())
        self._token = token
        self._token_expires = _timestamp(doc["token"]["expires_at"])
        return token

    def poll_once(self) -> int:
        """Fetch the events since the last success; the number of new ones. Raises OSError
        or ValueError on failure."""
        started = time.time()
        since = 0.0 if self.revocations.last_success is None else \
            self.revocations.last_success - CLOCK_MARGIN
        query = urlencode({"since": datetime.datetime.fromtimestamp(
            since, datetime.UTC).isoformat()})
        for attempt in (1, 2):
            request = urllib.request.Request(f"{self.url}/v3/OS-REVOKE/events?{query}",
                                             headers={"X-Auth-Token": self._login()})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    doc = json.loads(answer.read())
                break
            except urllib.error.HTTPError as exc:
                if exc.code != 401 or attempt == 2:
                    raise
                self._token = None  # our own token was revoked or expired: log in again
        added = self.revocations.add(parse_events(doc))
        self.revocations.last_success = started
        return added

    def run(self, interval: float, sleep=time.sleep) -> None:
        """Poll forever (a green thread of the server)."""
        failing = False
        while True:
            try:
                self.poll_once()
                if failing:
                    log.info("revocation events from %s: polling again", self.url)
                failing = False
            except (OSError, ValueError, KeyError, TypeError) as exc:
                if not failing:
                    log.warning("cannot fetch revocation events from %s: %s", self.url,
                                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                failing = True
            sleep(interval)
