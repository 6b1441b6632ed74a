"""A Keystone v3 login for the `brume` command: a project-scoped token and the endpoints of
the services it drives, from the token's catalog.

`login(auth)` sends `POST /v3/auth/tokens` (password or application credential, scoped to
the project named in `cli.cloud_config.KeystoneAuth`) through `common.http_client` and picks
from the returned catalog the `object-store`, `image`, `compute` and `network` endpoints of
the asked interface (and region, when one is named). `endpoints_from_catalog` is the pure part.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from common.http_client import HTTPClient, HTTPClientError

SERVICE_TYPES = {"storage_url": "object-store", "image_url": "image", "compute_url": "compute",
                 "network_url": "network"}
_client = HTTPClient(timeout=30.0, retries=1)


@dataclass(frozen=True)
class KeystoneLogin:
    token: str
    endpoints: dict  # {"storage_url": ..., "image_url": ..., "compute_url": ...,
    #                   "network_url": ...}; "" if absent


def auth_body(auth) -> dict:
    if auth.app_cred_id:
        return {"auth": {"identity": {"methods": ["application_credential"],
                                      "application_credential": {
                                          "id": auth.app_cred_id,
                                          "secret": auth.app_cred_secret}}}}
    project = {"id": auth.project_id} if auth.project_id else {
        "name": auth.project_name, "domain": {"name": auth.project_domain_name}}
    return {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": auth.username, "domain": {"name": auth.user_domain_name},
            "password": auth.password}}},
        "scope": {"project": project}}}


def endpoints_from_catalog(catalog, interface: str, region: str) -> dict:
    """{"storage_url": url, ...} from a v3 catalog; "" for a service it lacks."""
    found = {key: "" for key in SERVICE_TYPES}
    if not isinstance(catalog, list):
        return found
    for key, service_type in SERVICE_TYPES.items():
        for service in catalog:
            if not isinstance(service, dict) or service.get("type") != service_type:
                continue
            for endpoint in service.get("endpoints") or []:
                if not isinstance(endpoint, dict) or endpoint.get("interface") != interface:
                    continue
                if region and region not in (endpoint.get("region"),
                                             endpoint.get("region_id")):
                    continue
                if isinstance(endpoint.get("url"), str):
                    found[key] = endpoint["url"].rstrip("/")
                    break
            if found[key]:
                break
    return found


def login(auth, *, client: HTTPClient | None = None, timeout: float | None = None
          ) -> KeystoneLogin:
    """Log in; HTTPClientError with one line when refused or unreachable."""
    url = f"{auth.v3_url}/auth/tokens"
    response = (client or _client).request(
        "POST", url, body=json.dumps(auth_body(auth)).encode(),
        headers={"Content-Type": "application/json"}, timeout=timeout, max_body=4 * 1024 * 1024)
    if response.status == 401:
        raise HTTPClientError(f"authentication failed at {auth.v3_url}: wrong user, password "
                              "or application credential", 401, response.reason)
    if response.status != 201:
        raise HTTPClientError(f"POST {url}: HTTP {response.status} {response.reason}".rstrip(),
                              response.status, response.reason, response.body or b"")
    token = response.headers.get("X-Subject-Token", "")
    try:
        catalog = json.loads(response.body)["token"].get("catalog", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise HTTPClientError(f"POST {url}: the answer is not a token document") from None
    if not token:
        raise HTTPClientError(f"POST {url}: the answer carries no X-Subject-Token")
    return KeystoneLogin(token, endpoints_from_catalog(catalog, auth.interface,
                                                       auth.region_name))
