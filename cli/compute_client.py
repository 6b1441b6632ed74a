"""The `brume` CLI's client for the compute and network APIs (and image name lookups in the
image service).

Errors become `cli.main.CLIError` with one line: the API's fault message when there is
one, or what could not be reached.
"""
from __future__ import annotations

import json
import urllib.parse

from cli.credentials import AuthError, Session, authenticate
from cli.main import CLIError
from common.http_client import HTTPClient, HTTPClientError

MAX_ANSWER = 16 * 1024 * 1024


class APIError(CLIError):
    """The API answered with an error status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def fault_message(payload: bytes, status: int) -> str:
    try:
        body = json.loads(payload)
        if isinstance(body, dict) and body:
            inner = next(iter(body.values()))
            if isinstance(inner, dict) and "message" in inner:
                return f"{inner['message']} (HTTP {status})"
            if isinstance(inner, str):
                return f"{inner} (HTTP {status})"
    except ValueError:
        pass
    return f"HTTP {status}"


class ComputeClient:
    """Authenticated JSON calls to the compute, network and image APIs."""

    def __init__(self, session: Session, timeout: float = 60.0):
        self.session = session
        self.http = HTTPClient(timeout=timeout, max_body=MAX_ANSWER,
                               headers={"X-Auth-Token": session.token})

    @classmethod
    def from_args(cls, args) -> ComputeClient:
        try:
            return cls(authenticate(args))
        except AuthError as exc:
            raise CLIError(str(exc)) from None

    def request(self, method: str, url: str, body=None, ok=(200, 202, 204), headers=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = dict(headers or {})
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.http.request(method, url, body=data, headers=headers)
        except HTTPClientError as exc:
            raise CLIError(str(exc)) from None
        status, payload = response.status, response.body
        if status not in ok:
            raise APIError(fault_message(payload, status), status)
        try:
            return json.loads(payload) if payload else {}
        except ValueError:
            raise CLIError(f"{url} answered with something that is not JSON") from None

    def compute(self, method: str, path: str, body=None, ok=(200, 202, 204), headers=None):
        return self.request(method, self.session.compute_url + path, body, ok, headers)

    def network(self, method: str, path: str, body=None, ok=(200, 201, 204)):
        return self.request(method, self.session.network_url + path, body, ok)

    def try_get(self, path: str) -> dict | None:
        """GET that returns None on 404 instead of failing."""
        try:
            return self.compute("GET", path)
        except APIError as exc:
            if exc.status == 404:
                return None
            raise

    # name resolution -------------------------------------------------------------------
    def resolve_flavor(self, name_or_id: str) -> str:
        flavors = self.compute("GET", "/v2.1/flavors")["flavors"]
        for flavor in flavors:
            if flavor["id"] == name_or_id:
                return flavor["id"]
        matches = [f["id"] for f in flavors if f["name"] == name_or_id]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise CLIError(f"more than one flavor is named {name_or_id!r}; use its id")
        raise CLIError(f"no flavor with name or id {name_or_id!r}")

    def resolve_image(self, name_or_id: str) -> str:
        base = self.session.image_url
        quoted = urllib.parse.quote(name_or_id, safe="")
        try:
            image = self.request("GET", f"{base}/v2/images/{quoted}")
            if isinstance(image, dict) and image.get("id"):
                return image["id"]
        except APIError as exc:
            if exc.status not in (400, 404):
                raise
        found = self.request("GET", f"{base}/v2/images?name={quoted}").get("images", [])
        if len(found) == 1:
            return found[0]["id"]
        if found:
            raise CLIError(f"more than one image is named {name_or_id!r}; use its id")
        raise CLIError(f"no image with name or id {name_or_id!r}")

    def resolve_server(self, name_or_id: str) -> dict:
        server = self.try_get(f"/v2.1/servers/{urllib.parse.quote(name_or_id, safe='')}")
        if server is not None:
            return server["server"]
        servers = self.compute("GET", "/v2.1/servers/detail")["servers"]
        matches = [s for s in servers if s["name"] == name_or_id]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise CLIError(f"more than one server is named {name_or_id!r}; use its id")
        raise CLIError(f"no server with name or id {name_or_id!r}")

    def resolve_network_item(self, collection: str, name_or_id: str) -> dict:
        """One network-service resource (`networks`, `security-groups`, ...) by id or name."""
        kind = collection.rstrip("s").replace("-", " ")
        key = collection.replace("-", "_")
        quoted = urllib.parse.quote(name_or_id, safe="")
        for field in ("id", "name"):
            found = self.network("GET", f"/v2.0/{collection}?{field}={quoted}")[key]
            if len(found) == 1:
                return found[0]
            if found:
                raise CLIError(f"more than one {kind} is named {name_or_id!r}; use its id")
        raise CLIError(f"no {kind} with name or id {name_or_id!r}")
