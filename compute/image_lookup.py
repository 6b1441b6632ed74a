"""Looking up a server's image in the image service (Glance v2) before a boot is accepted.

`GET <image_url>/v2/images/<id>` with the caller's own token: the image must exist, be
visible to the caller, be `active`, and fit the flavor (`min_ram`, `min_disk`). Its
`kernel_id`/`ramdisk_id` properties (direct kernel boot) are resolved the same way, with the
caller's token: each must name an image the caller can see, `active`, of disk_format `aki`
(kernel) or `ari` (ramdisk). The resolved ids travel with the server to the agent, which
fetches those and nothing the image's properties name (it reads images as the service user,
who can read every project's images).
"""
from __future__ import annotations

import json
import re
import urllib.parse

from common.http_client import HTTPClient, HTTPClientError
from common.http_errors import HTTPError

IMAGE_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                         r"[0-9a-fA-F]{12}$")
MAX_IMAGE_RECORD = 1024 * 1024
# image property -> (the disk_format its image must have, how a message names it)
BOOT_IMAGES = {"kernel_id": ("aki", "Kernel"), "ramdisk_id": ("ari", "Ramdisk")}
BOOT_IMAGE_PROPERTIES = tuple(BOOT_IMAGES)

CLIENT = HTTPClient(retries=2, max_body=MAX_IMAGE_RECORD)


def image_id_from_ref(image_ref) -> str:
    """The image id from an imageRef (an id, or a URL ending in one); HTTPError 400 if bad."""
    if not isinstance(image_ref, str) or not image_ref.strip():
        raise HTTPError(400, "Invalid imageRef provided.")
    candidate = image_ref.rstrip("/").rsplit("/", 1)[-1]
    if not IMAGE_ID_RE.match(candidate):
        raise HTTPError(400, "Invalid imageRef provided.")
    return candidate


def fetch_image(image_url: str, image_id: str, token: str, timeout: float) -> dict:
    url = f"{image_url.rstrip('/')}/v2/images/{urllib.parse.quote(image_id)}"
    try:
        raw = CLIENT.request("GET", url, headers={"X-Auth-Token": token}, timeout=timeout,
                             expect=range(200, 300)).body
    except HTTPClientError as exc:
        if exc.status in (403, 404):
            raise HTTPError(400, f"Image {image_id} could not be found.") from None
        if exc.status is None:
            raise HTTPError(503, "Image service is unavailable.") from None
        if 200 <= exc.status < 300:  # an answer over MAX_IMAGE_RECORD: no image record
            raise HTTPError(503, "Image service answered with invalid JSON.") from None
        raise HTTPError(503, f"Image service answered HTTP {exc.status}.") from None
    try:
        image = json.loads(raw)
    except ValueError:
        raise HTTPError(503, "Image service answered with invalid JSON.") from None
    if not isinstance(image, dict):
        raise HTTPError(503, "Image service answered with invalid JSON.")
    return image


IMAGE_META_KEYS = ("id", "name", "status", "disk_format", "container_format", "size", "checksum",
                   "os_hash_algo", "os_hash_value", "min_disk", "min_ram")


def image_meta_of(image: dict) -> dict:
    """What a server records of the image it is built from (`servers.image_meta`)."""
    return {key: image.get(key) for key in IMAGE_META_KEYS if key in image}


def check_image_fits(image: dict, image_id: str, flavor: dict) -> None:
    if image.get("status") != "active":
        raise HTTPError(400, f"Image {image_id} is not active.")
    if int(image.get("min_ram") or 0) > flavor["ram"]:
        raise HTTPError(400, "Flavor's memory is too small for requested image.")
    if int(image.get("min_disk") or 0) > flavor["disk"]:
        raise HTTPError(400, "Flavor's disk is too small for requested image.")
    size = image.get("size") or 0
    if flavor["disk"] and isinstance(size, int) and size > flavor["disk"] * 1024**3:
        raise HTTPError(400, "Flavor's disk is too small for requested image.")


def resolve_boot_images(image: dict, image_id: str, fetch) -> dict[str, str | None]:
    """{"kernel_id", "ramdisk_id"} -> the checked id (or None) for a boot of `image`.

    `fetch(id)` looks an image up with the caller's own token (HTTPError 400 when the caller
    cannot see it). Anything not visible, not active or of another disk_format is a 400.
    """
    resolved: dict[str, str | None] = {}
    for prop, (wanted, label) in BOOT_IMAGES.items():
        ref = image.get(prop)
        if ref is None or ref == "":
            resolved[prop] = None
            continue
        if not isinstance(ref, str) or not IMAGE_ID_RE.match(ref):
            raise HTTPError(400, f"Image {image_id} has an invalid {prop}.")
        try:
            found = fetch(ref)
        except HTTPError as fault:
            if fault.status == 400:
                raise HTTPError(400, f"{label} image {ref} of image {image_id} could not be "
                                "found.") from None
            raise
        if found.get("status") != "active":
            raise HTTPError(400, f"{label} image {ref} of image {image_id} is not active.")
        if found.get("disk_format") != wanted:
            raise HTTPError(400, f"{label} image {ref} of image {image_id} is not an {wanted} "
                            f"image (disk_format {found.get('disk_format')}).")
        resolved[prop] = str(found.get("id") or ref)
    return resolved
