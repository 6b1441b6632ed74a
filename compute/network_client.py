"""The network service (Neutron v2.0 shapes) as compute uses it, over `common.http_client`.

The compute API calls it with the caller's own token (so the network service's rules decide
what the caller may see and use: another project's network or port is a 404 there and
here); agents call it as the service user. Every answer other than 2xx is a `NetworkError`
carrying the status and Neutron's error `type`/`message`; `status` None means the service
could not be reached (or answered garbage).
"""
from __future__ import annotations

import json
import urllib.parse

from common.http_client import HTTPClient, HTTPClientError

MAX_ANSWER = 8 * 1024 * 1024
CLIENT = HTTPClient(retries=2, max_body=MAX_ANSWER)


class NetworkError(Exception):
    """A refused or failed call; `status` None when no usable answer came."""

    def __init__(self, message: str, status: int | None = None, kind: str = ""):
        super().__init__(message)
        self.status = status
        self.kind = kind


def _error(exc: HTTPClientError) -> NetworkError:
    if exc.status is None:
        return NetworkError(f"network service unreachable: {exc}")
    message, kind = exc.detail, ""
    try:
        fault = json.loads(exc.body)["NeutronError"]
        message, kind = str(fault.get("message") or message), str(fault.get("type") or "")
    except (ValueError, KeyError, TypeError):
        pass
    return NetworkError(message[:500], exc.status, kind)


class NetworkClient:
    """Calls to one network service; `token` is given per call (the caller's or a service
    user's)."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, token: str, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"X-Auth-Token": token, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = CLIENT.request(method, self.base_url + path, body=data, headers=headers,
                                      timeout=self.timeout, expect=range(200, 300))
        except HTTPClientError as exc:
            raise _error(exc) from None
        if not response.body:
            return {}
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise NetworkError(f"{method} {path}: the network service's answer is not "
                               "JSON") from None
        if not isinstance(answer, dict):
            raise NetworkError(f"{method} {path}: the network service's answer is not an "
                               "object")
        return answer

    @staticmethod
    def _query(filters: dict | None) -> str:
        if not filters:
            return ""
        return "?" + urllib.parse.urlencode(
            [(key, value) for key, values in filters.items()
             for value in (values if isinstance(values, list | tuple) else [values])])

    def _one(self, token: str, kind: str, ident: str) -> dict:
        answer = self._call(token, "GET", f"/v2.0/{kind}s/{urllib.parse.quote(ident, safe='')}")
        return _field(answer, kind, dict)

    def _list(self, token: str, collection: str, filters: dict | None) -> list[dict]:
        answer = self._call(token, "GET", f"/v2.0/{collection}{self._query(filters)}")
        return [item for item in _field(answer, collection.replace("-", "_"), list)
                if isinstance(item, dict)]

    # reads -------------------------------------------------------------------------------
    def network(self, token: str, network_id: str) -> dict:
        return self._one(token, "network", network_id)

    def port(self, token: str, port_id: str) -> dict:
        return self._one(token, "port", port_id)

    def networks(self, token: str, **filters) -> list[dict]:
        return self._list(token, "networks", filters)

    def subnets(self, token: str, **filters) -> list[dict]:
        return self._list(token, "subnets", filters)

    def ports(self, token: str, **filters) -> list[dict]:
        return self._list(token, "ports", filters)

    def security_groups(self, token: str, **filters) -> list[dict]:
        return self._list(token, "security-groups", filters)

    def floatingips(self, token: str, **filters) -> list[dict]:
        return self._list(token, "floatingips", filters)

    # writes ------------------------------------------------------------------------------
    def create_port(self, token: str, attrs: dict) -> dict:
        return _field(self._call(token, "POST", "/v2.0/ports", {"port": attrs}), "port", dict)

    def update_port(self, token: str, port_id: str, attrs: dict) -> dict:
        answer = self._call(token, "PUT", f"/v2.0/ports/{urllib.parse.quote(port_id, safe='')}",
                            {"port": attrs})
        return _field(answer, "port", dict)

    def delete_port(self, token: str, port_id: str) -> bool:
        """Delete a port; False when it was already gone."""
        try:
            self._call(token, "DELETE", f"/v2.0/ports/{urllib.parse.quote(port_id, safe='')}")
        except NetworkError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _field(answer: dict, key: str, kind: type):
    value = answer.get(key)
    if not isinstance(value, kind):
        raise NetworkError(f"the network service's answer has no {key!r}")
    return value
