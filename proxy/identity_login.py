"""`/auth/v1.0` against the identity store: the identity service checks the password.

When `[filter:auth] identity_url` is set (the all-in-one sets it), `X-Auth-User:
<project>:<user>` and `X-Auth-Key: <password>` are not looked up in `[users]`: the proxy asks
the identity service for a project-scoped token (`POST /v3/auth/tokens?nocatalog`, the
password method, user and project named in `identity_domain`), checks that token with the
Fernet keys it shares with the identity service (`common.token_format`), and answers with a
Swift v1 token (`common.tokens`) for account `<prefix><project id>` — the account the
catalog's object-store endpoint names for the same project, so an object stored with
`swift` is the one `openstack object list` shows.

The v1 token carries the user's id and issue time, so the identity service's revocation
events refuse it like a Keystone token (a disabled or deleted user, a changed password, a
disabled project), and expires no later than the Keystone token would; it also carries the
Keystone roles, which the image, compute and network APIs go by (`common.token_check`).
Its flags, which the proxy goes by, are those roles in tempauth's terms (`v1_flags`):
`admin` in a reseller admin project -> `.admin .reseller_admin`, `member` or `admin` -> `.admin`,
anything else -> none (ACLs only, as tempauth's user without a flag: Swift's functional
suite relies on that for tester3).

A wrong user, password or project is a 401; an identity service that cannot be reached, or
whose token these keys cannot verify, a 503 (never a fall-back to `[users]`: a changed
password must not leave the old key working).
"""
from __future__ import annotations

import json
import logging
import time

from webob import Response

from common.http_client import HTTPClient, HTTPClientError
from common.token_format import verify_token
from common.tokens import ADMIN_ROLE, RESELLER_ADMIN_ROLE, issue_token
from proxy.auth import refused, token_response, v1_credentials

log = logging.getLogger("brume.proxy.auth")
MAX_NAME = 255


class IdentityUnavailable(Exception):
    """The identity service could not decide (unreachable, an error, keys that differ)."""


def split_login(name: str) -> tuple[str, str] | None:
    """(project, user) of an `X-Auth-User` value, None when it is not `project:user`."""
    project, sep, user = name.partition(":")
    if not sep or not project or not user or len(project) > MAX_NAME or len(user) > MAX_NAME:
        return None
    return project, user


def login_body(project: str, user: str, password: str, domain: str) -> bytes:
    return json.dumps({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": domain}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}}}).encode()


def v1_flags(roles, project_id: str, admin_projects) -> tuple[str, ...]:
    """The tempauth flags of Keystone project roles."""
    if "admin" in roles and project_id in admin_projects:
        return (ADMIN_ROLE, RESELLER_ADMIN_ROLE)
    if "admin" in roles or "member" in roles:
        return (ADMIN_ROLE,)
    return ()


class IdentityLogin:
    """Checks `project:user` + password with the identity service at `url`."""

    def __init__(self, url: str, domain: str, fernet, client: HTTPClient | None = None):
        self.url = url.rstrip("/")
        self.domain = domain
        self.fernet = fernet
        self.client = client or HTTPClient(timeout=30.0, retries=1)

    def claims(self, project: str, user: str, password: str):
        """The claims of a token for `user` in `project`, None when the identity service
        refuses the credentials; IdentityUnavailable when it cannot say."""
        try:
            answer = self.client.request(
                "POST", f"{self.url}/v3/auth/tokens?nocatalog",
                headers={"Content-Type": "application/json"},
                body=login_body(project, user, password, self.domain), max_body=1 << 20)
        except HTTPClientError as exc:
            raise IdentityUnavailable(str(exc)) from None
        if answer.status in (400, 401, 403, 404):
            return None
        if answer.status != 201:
            raise IdentityUnavailable(f"the identity service answered {answer.status}")
        token = answer.headers.get("X-Subject-Token", "")
        found = verify_token(token, self.fernet)
        if found is None or not found.project_id:
            raise IdentityUnavailable("the identity service's token does not verify with "
                                      "this proxy's token_key_file")
        return found


def handle_identity_auth(req, login: IdentityLogin, secret: str, token_life: float,
                         reseller_prefix: str, public_url: str, admin_projects):
    """GET /auth/v1.0 against the identity store: 200 with a token, 401 or 503."""
    if req.method not in ("GET", "HEAD"):
        return Response(status=405, body=b"use GET\n", headers={"Allow": "GET, HEAD"})
    name, key = v1_credentials(req)
    names = split_login(name)
    if names is None or not key:
        return refused()
    try:
        claims = login.claims(names[0], names[1], key)
    except IdentityUnavailable as exc:
        log.warning("/auth/v1.0 for %r: %s", name[:100], exc)
        return Response(status=503, body=b"the identity service is unavailable\n",
                        content_type="text/plain")
    if claims is None:
        return refused()
    life = min(token_life, claims.expires_at - time.time())
    flags = v1_flags(claims.roles, claims.project_id, admin_projects)
    token, info = issue_token(secret, claims.project_id, names[1], flags, life,
                              user_id=claims.user_id, project_roles=claims.roles)
    return token_response(req, token, info, reseller_prefix, public_url)
