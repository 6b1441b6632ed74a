"""Images that become volumes: the image service (Glance v2) asked with the caller's token.

`lookup(image_id, token)` is the image record, `GET /v2/images/<id>` with the caller's own
token (so what the caller may not see cannot become their volume); it must be `active`
and of a disk format a volume can hold. `download(image, token, path)` streams the bytes
of `GET /v2/images/<id>/file` (1 MiB chunks, bounded memory) to `path` and checks their
size and MD5 (`checksum`) and, when the record has one, `os_hash_value` (SHA-512) against
the record: a mismatch is an `ImageError`, and the file is removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import urllib.parse

from common.http_client import HTTPClient, HTTPClientError
from volume.disks import QEMU_FORMATS

MAX_RECORD = 1024 * 1024
CHUNK = 1024 * 1024


class ImageError(Exception):
    """The image cannot become a volume; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class ImageSource:
    def __init__(self, image_url: str, timeout: float = 60.0):
        self.image_url = image_url.rstrip("/")
        self.client = HTTPClient(retries=2, timeout=timeout, max_body=MAX_RECORD)

    def _url(self, image_id: str, suffix: str = "") -> str:
        return f"{self.image_url}/v2/images/{urllib.parse.quote(image_id, safe='')}{suffix}"

    def lookup(self, image_id: str, token: str) -> dict:
        try:
            raw = self.client.request("GET", self._url(image_id),
                                      headers={"X-Auth-Token": token},
                                      expect=range(200, 300)).body
            image = json.loads(raw)
        except HTTPClientError as exc:
            if exc.status in (403, 404):
                raise ImageError(f"Invalid image identifier or unable to access requested "
                                 f"image {image_id}.") from None
            raise ImageError(f"The image service is unavailable: {exc}", 503) from None
        except ValueError:
            raise ImageError("The image service answered with invalid JSON.", 503) from None
        if not isinstance(image, dict):
            raise ImageError("The image service answered with invalid JSON.", 503)
        if image.get("status") != "active":
            raise ImageError(f"Image {image_id} is not active.")
        if image.get("disk_format") not in QEMU_FORMATS:
            raise ImageError(f"Image {image_id} has disk_format {image.get('disk_format')}, "
                             "which a volume cannot be made from.")
        return image

    def download(self, image: dict, token: str, path: str) -> None:
        md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
        try:
            response = self.client.request("GET", self._url(image["id"], "/file"),
                                           headers={"X-Auth-Token": token}, stream=True,
                                           expect=(200,))
            with response, open(path, "wb") as handle:
                for chunk in response.iter_chunks(CHUNK):
                    md5.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
        except (HTTPClientError, OSError) as exc:
            _remove(path)
            raise ImageError(f"cannot download image {image['id']}: {exc}", 503) from None
        problems = []
        if image.get("size") is not None and size != image["size"]:
            problems.append(f"size {size} != {image['size']}")
        if image.get("checksum") and md5.hexdigest() != image["checksum"]:
            problems.append("MD5 mismatch")
        if image.get("os_hash_algo") == "sha512" and image.get("os_hash_value") \
                and sha512.hexdigest() != image["os_hash_value"]:
            problems.append("SHA-512 mismatch")
        if problems:
            _remove(path)
            raise ImageError(f"image {image['id']} downloaded wrong: {', '.join(problems)}")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
