"""The block-storage service (Cinder v3 shapes) as the compute API uses it, over
`common.http_client`.

Every call carries the caller's own token and names the server's project in the URL, so
the volume service's rules decide what the caller may use (another project's volume is a
404 there and here). Attachments follow Cinder's attachment API (3.27+): create with a
connector (answering the `connection_info` the hypervisor opens), `os-complete`, delete.
Every answer other than 2xx is a `VolumeError` carrying the status and Cinder's fault
message; `status` None means the service could not be reached (or answered garbage).
"""
from __future__ import annotations

import json
import urllib.parse

from common.http_client import HTTPClient, HTTPClientError

MAX_ANSWER = 4 * 1024 * 1024
CLIENT = HTTPClient(retries=2, max_body=MAX_ANSWER)
API_VERSION = "volume 3.44"


class VolumeError(Exception):
    """A refused or failed call; `status` None when no usable answer came."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _error(exc: HTTPClientError) -> VolumeError:
    if exc.status is None:
        return VolumeError(f"volume service unreachable: {exc}")
    message = exc.detail
    try:
        fault = next(iter(json.loads(exc.body).values()))
        message = str(fault.get("message") or message)
    except (ValueError, AttributeError, StopIteration, TypeError):
        pass
    return VolumeError(message[:500], exc.status)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class VolumeClient:
    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, token: str, project: str, method: str, path: str,
              body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"X-Auth-Token": token, "Accept": "application/json",
                   "OpenStack-API-Version": API_VERSION}
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url}/v3/{_q(project)}{path}"
        try:
            response = CLIENT.request(method, url, body=data, headers=headers,
                                      timeout=self.timeout, expect=range(200, 300))
        except HTTPClientError as exc:
            raise _error(exc) from None
        if not response.body:
            return {}
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise VolumeError("volume service answered with invalid JSON") from None
        if not isinstance(answer, dict):
            raise VolumeError("volume service answered with invalid JSON")
        return answer

    def get_volume(self, token: str, project: str, volume_id: str) -> dict:
        return self._call(token, project, "GET", f"/volumes/{_q(volume_id)}").get("volume") \
            or {}

    def create_volume(self, token: str, project: str, spec: dict) -> dict:
        return self._call(token, project, "POST", "/volumes", {"volume": spec})["volume"]

    def delete_volume(self, token: str, project: str, volume_id: str) -> None:
        self._call(token, project, "DELETE", f"/volumes/{_q(volume_id)}")

    def attach(self, token: str, project: str, volume_id: str, server_id: str,
               connector: dict) -> dict:
        """A new attachment of the volume to the server, exported: {id, connection_info}."""
        return self._call(token, project, "POST", "/attachments", {"attachment": {
            "volume_uuid": volume_id, "instance_uuid": server_id, "connector": connector,
        }})["attachment"]

    def complete(self, token: str, project: str, attachment_id: str) -> None:
        self._call(token, project, "POST", f"/attachments/{_q(attachment_id)}/action",
                   {"os-complete": None})

    def detach(self, token: str, project: str, attachment_id: str) -> None:
        """Delete the attachment (the export stops; the volume is available again); one
        already gone is no error."""
        try:
            self._call(token, project, "DELETE", f"/attachments/{_q(attachment_id)}")
        except VolumeError as exc:
            if exc.status != 404:
                raise
