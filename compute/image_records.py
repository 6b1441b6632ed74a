"""Image records the compute API makes and removes in the image service (Glance v2) for
snapshots, backups, shelved servers and disks on the move, with the caller's own token.

The API creates the (queued) record, so the image belongs to the caller's project and its
id can be answered at once; the agent then uploads the bytes as the service user, through
the image service's own upload path (checksums, format inspection). Properties follow Nova:
`image_type` (`snapshot` or `backup`), `instance_uuid`, `base_image_ref`, `user_id`, and
for backups `backup_type`. `backups()` lists a server's backups of one type, newest first,
and `to_rotate()` says which of them a rotation removes. Every failure is `ImageRecordError`.
"""
from __future__ import annotations

import json
import urllib.parse

from common.http_client import HTTPClient, HTTPClientError

CLIENT = HTTPClient(retries=2, max_body=8 * 1024 * 1024)


class ImageRecordError(Exception):
    """The image service refused or could not be reached; `status` None when unreachable."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def snapshot_properties(server: dict, image_type: str, extra: dict | None = None) -> dict:
    """The properties of an image made from `server`'s root disk (string values)."""
    meta = server.get("image_meta") or {}
    props = {
        "image_type": image_type,
        "instance_uuid": server["id"],
        "base_image_ref": server["image_ref"],
        "user_id": server["user_id"],
    }
    if meta.get("os_command_line"):
        props["os_command_line"] = str(meta["os_command_line"])
    props.update({str(k): str(v) for k, v in (extra or {}).items()})
    return props


def to_rotate(backups: list[dict], rotation: int, newest: str | None = None) -> list[str]:
    """Ids of the backups beyond the `rotation` newest (by `created_at`, whole seconds in
    the image service: the backup just made, `newest`, counts as the newest of all)."""
    ordered = sorted(backups, key=lambda image: (image["id"] == newest,
                                                 image.get("created_at") or "", image["id"]),
                     reverse=True)
    return [image["id"] for image in ordered[max(0, rotation):]]


class ImageRecords:
    """The image service, as the caller (each call takes the caller's token)."""

    def __init__(self, image_url: str, timeout: float):
        self.base = image_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, token: str, body=None, expect=range(200, 300)):
        headers = {"X-Auth-Token": token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = CLIENT.request(method, self.base + path, body=data, headers=headers,
                                      timeout=self.timeout, expect=expect)
        except HTTPClientError as exc:
            raise ImageRecordError(f"image service: {exc}", exc.status) from None
        if not response.body:
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            raise ImageRecordError("image service answered with invalid JSON", 502) from None

    def create(self, token: str, name: str, server: dict, properties: dict,
               hidden: bool = False) -> dict:
        """A queued qcow2 image record for a copy of `server`'s root disk (`hidden`: left
        out of image lists, for a disk on the move)."""
        meta = server.get("image_meta") or {}
        body = {"name": name, "disk_format": "qcow2", "container_format": "bare",
                "visibility": "private", "min_disk": int(server["disk"] or 0),
                "min_ram": int(meta.get("min_ram") or 0), **properties}
        if hidden:
            body["os_hidden"] = True
        record = self._call("POST", "/v2/images", token, body)
        if not isinstance(record, dict) or not record.get("id"):
            raise ImageRecordError("image service answered no image record", 502)
        return record

    def get(self, token: str, image_id: str) -> dict:
        record = self._call("GET", f"/v2/images/{urllib.parse.quote(image_id)}", token)
        if not isinstance(record, dict):
            raise ImageRecordError("image service answered no image record", 502)
        return record

    def delete(self, token: str, image_id: str) -> None:
        """Delete the image; one already gone is fine."""
        self._call("DELETE", f"/v2/images/{urllib.parse.quote(image_id)}", token,
                   expect=(204, 200, 404))

    def backups(self, token: str, server_id: str, backup_type: str | None = None) -> list[dict]:
        """The server's active backup images (of `backup_type`, if given), newest first."""
        query = {"instance_uuid": server_id, "image_type": "backup", "limit": "1000",
                 "sort": "created_at:desc"}
        if backup_type is not None:
            query["backup_type"] = backup_type
        answer = self._call("GET", "/v2/images?" + urllib.parse.urlencode(query), token)
        images = (answer or {}).get("images") if isinstance(answer, dict) else None
        return [image for image in images or [] if isinstance(image, dict)
                and image.get("status") == "active"]
