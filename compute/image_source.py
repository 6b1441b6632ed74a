"""Where an agent gets image metadata and bytes: the image service, as the service user.

The agent authenticates at the proxy's v1 auth with its service credential (a cloud-admin
user, so it may read every project's images) through `common.v1_auth.V1Session`, which keeps
the token until shortly before it expires and authenticates again once on a 401.
`stream(image_meta)` yields the image's bytes in 1 MiB chunks from
`GET /v2/images/{id}/file`; memory stays bounded. `upload(image_id, path)` sends a file as the
bytes of a queued image (`PUT /v2/images/{id}/file`, streamed: a snapshot), which the image
service checks as it checks every upload. Every failure is
`common.http_client.HTTPClientError`.
"""
from __future__ import annotations

import os
import urllib.parse

from common.http_client import HTTPClient, HTTPClientError
from common.v1_auth import V1Session

CHUNK = 1024 * 1024


class ImageSource:
    def __init__(self, image_url: str, session: V1Session, timeout: float = 60.0):
        self.client = HTTPClient(image_url, timeout=timeout)
        self.session = session

    def _get(self, path: str, stream: bool = False):
        return self.session.request("GET", path, client=self.client, stream=stream,
                                    expect=(200,))

    def get_meta(self, image_id: str) -> dict:
        response = self._get(f"/v2/images/{urllib.parse.quote(image_id)}")
        meta = response.json()
        if not isinstance(meta, dict):
            raise HTTPClientError(f"image service sent no image record for {image_id}",
                                  response.status)
        return meta

    def stream(self, image_meta: dict):
        response = self._get(f"/v2/images/{urllib.parse.quote(image_meta['id'])}/file",
                             stream=True)
        yield from response.iter_chunks(CHUNK)

    def upload(self, image_id: str, path: str) -> None:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            self.session.request(
                "PUT", f"/v2/images/{urllib.parse.quote(image_id)}/file", client=self.client,
                body=handle, headers={"Content-Type": "application/octet-stream",
                                      "Content-Length": str(size)},
                expect=(204, 201, 200))
