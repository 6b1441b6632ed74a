"""A small client of the image API (used by `brume image ...`; usable by other services).

Requests carry the caller's token; JSON in and out; image data streams in 64 KiB chunks in
both directions. Every failure is an `ImageClientError` with a one-line message.
"""
from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Callable, Iterator

from imagesvc.schema import is_uuid

CHUNK_SIZE = 64 * 1024
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


class ImageClientError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _error_text(status: int, body: bytes) -> str:
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines()]
    detail = next((line for line in lines[1:] if line), lines[0] if lines else "")
    return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"


class ImageClient:
    def __init__(self, image_url: str, token: str, timeout: float = 300.0):
        parts = urllib.parse.urlsplit(image_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImageClientError(f"bad image service URL {image_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.url = image_url

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=self.timeout)

    def _send(self, method: str, path: str, body=None, headers=None):
        conn = self._connect()
        all_headers = {"X-Auth-Token": self.token, **(headers or {})}
        try:
            if body is not None and not isinstance(body, bytes):
                conn.putrequest(method, self.base + path, skip_accept_encoding=True)
                for name, value in all_headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                try:
                    for chunk in body:
                        conn.send(chunk)
                except OSError:
                    # The service may have refused the data early (bad format, no access):
                    # its answer is more useful than the broken pipe.
                    pass
            else:
                conn.request(method, self.base + path, body=body, headers=all_headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ImageClientError(f"cannot reach the image service at {self.url}: "
                                   f"{getattr(exc, 'strerror', None) or exc}") from None

    def request(self, method: str, path: str, doc=None, content_type="application/json",
                expect=(200, 201, 202, 204)):
        body = json.dumps(doc).encode() if doc is not None else None
        headers = {"Content-Type": content_type} if body is not None else {}
        conn, response = self._send(method, path, body, headers)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ImageClientError(f"reading the image service's answer failed: {exc}") from None
        finally:
            conn.close()
        if response.status not in expect:
            raise ImageClientError(_error_text(response.status, data), response.status)
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise ImageClientError("the image service answered with invalid JSON") from None

    # -- images ------------------------------------------------------------------------

    def create(self, fields: dict) -> dict:
        return self.request("POST", "/v2/images", fields)

    def get(self, image_id: str) -> dict:
        return self.request("GET", f"/v2/images/{urllib.parse.quote(image_id)}")

    def list(self, filters: dict | None = None) -> Iterator[dict]:
        path = "/v2/images"
        if filters:
            path += "?" + urllib.parse.urlencode(filters, doseq=True)
        while path:
            page = self.request("GET", path)
            yield from page["images"]
            path = page.get("next")

    def find(self, name_or_id: str) -> dict:
        """An image by id, or by exact name when exactly one visible image has it."""
        if is_uuid(name_or_id):
            try:
                return self.get(name_or_id)
            except ImageClientError as exc:
                if exc.status != 404:
                    raise
        matches = list(self.list({"name": name_or_id}))
        if not matches:
            raise ImageClientError(f"no image named or with ID {name_or_id!r}", 404)
        if len(matches) > 1:
            raise ImageClientError(f"{len(matches)} images are named {name_or_id!r}; use an ID")
        return matches[0]

    def patch(self, image_id: str, operations: list[dict]) -> dict:
        return self.request("PATCH", f"/v2/images/{image_id}", operations, PATCH_TYPE)

    def delete(self, image_id: str) -> None:
        self.request("DELETE", f"/v2/images/{image_id}")

    def action(self, image_id: str, action: str) -> None:
        self.request("POST", f"/v2/images/{image_id}/actions/{action}")

    def import_object(self, image_id: str, container_object: str) -> dict:
        doc = {"method": {"name": "copy-from-object", "uri": container_object}}
        return self.request("POST", f"/v2/images/{image_id}/import", doc)

    def members(self, image_id: str) -> list[dict]:
        return self.request("GET", f"/v2/images/{image_id}/members")["members"]

    def add_member(self, image_id: str, project: str) -> dict:
        return self.request("POST", f"/v2/images/{image_id}/members", {"member": project})

    def set_member_status(self, image_id: str, project: str, status: str) -> dict:
        return self.request("PUT", f"/v2/images/{image_id}/members/{project}",
                            {"status": status})

    def remove_member(self, image_id: str, project: str) -> None:
        self.request("DELETE", f"/v2/images/{image_id}/members/{project}")

    # -- data --------------------------------------------------------------------------

    def upload(self, image_id: str, chunks, length: int) -> None:
        """PUT `length` bytes from the `chunks` iterator as the image's data."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        conn, response = self._send("PUT", f"/v2/images/{image_id}/file", chunks, headers)
        try:
            data = response.read()
        finally:
            conn.close()
        if response.status != 204:
            raise ImageClientError(_error_text(response.status, data), response.status)

    def download(self, image_id: str, sink: Callable[[bytes], None]) -> dict[str, str]:
        """Stream an image's bytes into `sink`; returns the response headers."""
        conn, response = self._send("GET", f"/v2/images/{image_id}/file")
        try:
            if response.status == 204:
                raise ImageClientError("the image has no data yet", 204)
            if response.status != 200:
                raise ImageClientError(_error_text(response.status, response.read()),
                                       response.status)
            while True:
                try:
                    chunk = response.read(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise ImageClientError(f"the download broke off: {exc}") from None
                if not chunk:
                    break
                sink(chunk)
            return {name.lower(): value for name, value in response.getheaders()}
        finally:
            conn.close()
