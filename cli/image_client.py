"""A small client of the image API (used by `brume image ...`; usable by other services).

Requests carry the caller's token; JSON in and out; image data streams in 64 KiB chunks in
both directions, on `common.http_client`. Every failure is that client's one error type,
`HTTPClientError`, with a one-line message (an error answer's: `HTTP <status>: <reason>`);
`ImageClientError` is the same type for what the `brume image` commands find themselves.
"""
from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator

from common.http_client import HTTPClient, HTTPClientError
from imagesvc.schema import is_uuid

CHUNK_SIZE = 64 * 1024
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


class ImageClientError(HTTPClientError):
    """A `brume image` command's own finding (a checksum mismatch, no such image)."""


def _error_text(status: int, body: bytes) -> str:
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines()]
    detail = next((line for line in lines[1:] if line), lines[0] if lines else "")
    return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"


def _refused(response) -> HTTPClientError:
    body = response.body if response.body is not None else response.read(4096)
    response.close()
    return HTTPClientError(_error_text(response.status, body), response.status,
                           response.reason, body)


class ImageClient:
    def __init__(self, image_url: str, token: str, timeout: float = 300.0):
        parts = urllib.parse.urlsplit(image_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HTTPClientError(f"bad image service URL {image_url!r}")
        self.http = HTTPClient(image_url, timeout=timeout, headers={"X-Auth-Token": token})
        self.url = image_url

    def request(self, method: str, path: str, doc=None, content_type="application/json",
                expect=(200, 201, 202, 204)):
        body = json.dumps(doc).encode() if doc is not None else None
        headers = {"Content-Type": content_type} if body is not None else {}
        response = self.http.request(method, path, body=body, headers=headers)
        if response.status not in expect:
            raise _refused(response)
        if not response.body:
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            raise HTTPClientError("the image service answered with invalid JSON",
                                  response.status) from None

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
            except HTTPClientError as exc:
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
        response = self.http.request("PUT", f"/v2/images/{image_id}/file", body=chunks,
                                     headers=headers)
        if response.status != 204:
            raise _refused(response)

    def download(self, image_id: str, sink: Callable[[bytes], None]) -> dict[str, str]:
        """Stream an image's bytes into `sink`; returns the response headers."""
        with self.http.request("GET", f"/v2/images/{image_id}/file", stream=True) as response:
            if response.status == 204:
                raise ImageClientError("the image has no data yet", 204)
            if response.status != 200:
                raise _refused(response)
            for chunk in response.iter_chunks(CHUNK_SIZE):
                sink(chunk)
            return {name.lower(): value for name, value in response.headers.items()}
