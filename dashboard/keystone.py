"""Logging in with the identity service (Keystone v3), over HTTP like any client.

`IdentityClient.login(user, password, domain, project)` authenticates with a password
and scopes the token to `project` (a name or id) or, when none is given, to the first
project `/v3/auth/projects` lists; `rescope(token, project_id)` trades a token for one on
another of the user's projects (the `token` method), `projects(token)` lists them and
`revoke(token)` ends a token at logout.
One error type: `LoginError` (`status` 401 for refused credentials, 502 for an identity
service that did not answer sensibly).
"""
from __future__ import annotations

import json
from datetime import datetime

from common.http_client import HTTPClient, HTTPClientError
from dashboard.sessions import Grant


class LoginError(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def parse_time(text: str) -> float:
    """Keystone's `expires_at` (ISO 8601, `Z` or an offset) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def grant_from(token: str, body: dict) -> Grant:
    """The Grant of an identity answer; LoginError 502 when it is not project-scoped."""
    try:
        doc = body["token"]
        project = doc["project"]
        return Grant(token, parse_time(doc["expires_at"]), str(doc["user"]["id"]),
                     str(doc["user"].get("name", "")), str(project["id"]),
                     str(project.get("name", "")), list(doc.get("catalog") or []))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise LoginError("the identity service gave no project-scoped token", 502) from None


class IdentityClient:
    def __init__(self, identity_url: str, http: HTTPClient | None = None):
        self.base = identity_url.rstrip("/")
        self.http = http or HTTPClient(timeout=15.0)

    def login(self, user: str, password: str, domain: str = "Default",
              project: str = "") -> Grant:
        identity = {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": domain}, "password": password}}}
        token, _body = self._issue({"identity": identity, "scope": "unscoped"})
        choices = self.projects(token)
        wanted = [p for p in choices if project in (p.get("id"), p.get("name"))] if project \
            else choices
        if not wanted:
            raise LoginError("no such project for this user" if project
                             else "this user has a role on no project", 401)
        return self.rescope(token, str(wanted[0]["id"]))

    def rescope(self, token: str, project_id: str) -> Grant:
        new, body = self._issue({"identity": {"methods": ["token"], "token": {"id": token}},
                                 "scope": {"project": {"id": project_id}}})
        return grant_from(new, body)

    def projects(self, token: str) -> list[dict]:
        answer = self._call("GET", "/v3/auth/projects", {"X-Auth-Token": token}, None)
        try:
            return [p for p in answer.json()["projects"] if p.get("enabled", True)]
        except (HTTPClientError, KeyError, TypeError, AttributeError):
            raise LoginError("the identity service listed no projects", 502) from None

    def revoke(self, token: str) -> None:
        """Revoke `token` (its own credential authorizes it); LoginError when that failed."""
        self._call("DELETE", "/v3/auth/tokens", {"X-Auth-Token": token,
                                                 "X-Subject-Token": token}, None)

    def _issue(self, auth: dict) -> tuple[str, dict]:
        answer = self._call("POST", "/v3/auth/tokens", {"Content-Type": "application/json"},
                            json.dumps({"auth": auth}).encode())
        token = answer.headers.get("X-Subject-Token", "")
        try:
            body = answer.json()
        except HTTPClientError:
            raise LoginError("the identity service answered no JSON", 502) from None
        if not token or not isinstance(body, dict):
            raise LoginError("the identity service gave no token", 502)
        return token, body

    def _call(self, method: str, path: str, headers: dict, body: bytes | None):
        try:
            answer = self.http.request(method, self.base + path, headers=headers, body=body)
        except HTTPClientError as exc:
            raise LoginError(f"the identity service did not answer ({exc})", 502) from None
        if answer.status in (401, 403, 404):
            raise LoginError("wrong user name, password or project", 401)
        if not answer.ok:
            raise LoginError(f"the identity service answered {answer.status}", 502)
        return answer
