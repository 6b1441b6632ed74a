"""Handlers for image data: upload (`PUT .../file`), download (`GET .../file`) and the
Brume extension `POST .../import` with method `copy-from-object` (register bytes already in
the caller's object store; the service copies them into its own account, hashing and
inspecting them exactly like an upload).
"""
from __future__ import annotations

import logging

from webob import Request, Response

from common.constraints import check_account_name, check_container_name, check_object_name
from common.http_client import HTTPClientError
from common.http_errors import HTTPError
from common.image_formats.format_inspect import FormatInspector
from imagesvc.http_common import json_response, read_json
from imagesvc.policy import Identity, may_download
from imagesvc.schema import render_image
from imagesvc.service import ImageService
from imagesvc.upload import UploadRejected, parse_content_md5

log = logging.getLogger("brume.imagesvc.data")

IMPORT_METHODS = ("copy-from-object",)
UPLOAD_CONTENT_TYPES = ("application/octet-stream", "")


def _begin_upload(service: ImageService, who: Identity, image_id: str) -> dict:
    image = service.owned_image(image_id, who)
    if image["status"] != "queued":
        raise HTTPError(409, f"Image status transition from {image['status']} to saving is "
                        "not allowed (data can be uploaded only once, while queued)")
    if not image["disk_format"] or not image["container_format"]:
        raise HTTPError(400, "Properties disk_format, container_format must be set prior to "
                        "saving data.")
    pending = service.writer.pending_location(image_id)
    if not service.registry.update(image_id, {"status": "saving"}, expect_status=("queued",),
                                   location=pending):
        raise HTTPError(409, f"an upload to image {image_id} is already in progress")
    return {**image, "pending": pending}


def _requeue(service: ImageService, image_id: str) -> None:
    """After a failed upload (whose writes the writer already removed)."""
    service.registry.update(image_id, {"status": "queued"}, expect_status=("saving",),
                            location=None)


def _store_data(service: ImageService, image: dict, source, length: int | None,
                expected_md5: str | None) -> None:
    """Write the bytes, then activate the image; on any failure put it back to queued."""
    image_id = image["id"]
    inspector = FormatInspector(image["disk_format"])  # whatever the container format
    if not service.config.inspect_formats:
        inspector.enabled = False
    try:
        result = service.writer.write(image_id, source, length, inspector, expected_md5,
                                      image["pending"])
    except UploadRejected as exc:
        _requeue(service, image_id)
        raise HTTPError(exc.status, exc.message) from None
    except HTTPClientError as exc:
        _requeue(service, image_id)
        raise HTTPError(503, f"the object store failed: {exc}") from None
    except BaseException:
        _requeue(service, image_id)
        raise
    activated = service.registry.update(
        image_id,
        {"status": "active", "size": result.size, "checksum": result.checksum,
         "os_hash_algo": "sha512", "os_hash_value": result.os_hash_value,
         "virtual_size": result.virtual_size},
        expect_status=("saving",), location=result.location,
    )
    if not activated:
        service.writer.delete(result.location)
        raise HTTPError(409, f"image {image_id} was deleted during the upload")


def upload(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    if (req.content_type or "") not in UPLOAD_CONTENT_TYPES:
        raise HTTPError(415, "image data must be sent as application/octet-stream")
    try:
        expected_md5 = parse_content_md5(req.headers.get("Content-MD5"))
    except UploadRejected as exc:
        raise HTTPError(exc.status, exc.message) from None
    image = _begin_upload(service, who, image_id)
    _store_data(service, image, req.environ["wsgi.input"], req.content_length, expected_md5)
    return Response(status=204)


def download(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    image = service.visible_image(image_id, who)
    if not may_download(image, who):
        raise HTTPError(403, "The requested image has been deactivated. Image data download "
                        "is forbidden.")
    location = service.registry.location(image_id)
    if image["status"] not in ("active", "deactivated") or location is None:
        return Response(status=204)
    try:
        stream = service.store.get_object(location["container"], location["object"])
    except HTTPClientError as exc:
        log.error("image %s: data unreadable: %s", image_id, exc)
        raise HTTPError(503, "the image data cannot be read from the store") from None
    response = Response(status=200, content_type="application/octet-stream", charset=None)
    response.app_iter = iter(stream)
    response.content_length = image["size"]
    response.headers["Content-MD5"] = image["checksum"]
    return response


def _parse_object_uri(text) -> tuple[str, str]:
    if not isinstance(text, str) or "/" not in text.strip("/"):
        raise HTTPError(400, "uri must be CONTAINER/OBJECT")
    container, _, name = text.strip("/").partition("/")
    problem = check_container_name(container) or check_object_name(name)
    if problem:
        raise HTTPError(400, f"uri: {problem}")
    return container, name


def _source_account(value, who: Identity) -> str:
    """The account to copy from: the caller's own unless named; a single path segment."""
    if value is None or value == "":
        return f"AUTH_{who.project}"
    if not isinstance(value, str):
        raise HTTPError(400, "account must be an account name (a string)")
    problem = check_account_name(value)
    if problem is None and ("/" in value or value in (".", "..")):
        problem = "account name must be one path segment"
    if problem is None and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        problem = "account name contains control characters"
    if problem:
        raise HTTPError(400, f"account: {problem}")
    return value


def import_image(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    doc = read_json(req)
    method = doc.get("method") if isinstance(doc, dict) else None
    if not isinstance(method, dict) or method.get("name") not in IMPORT_METHODS:
        raise HTTPError(400, "body must be {\"method\": {\"name\": \"copy-from-object\", "
                        "\"uri\": \"CONTAINER/OBJECT\"}}")
    container, name = _parse_object_uri(method.get("uri"))
    account = _source_account(method.get("account"), who)
    image = _begin_upload(service, who, image_id)
    try:
        source = service.store.get_user_object(account, container, name,
                                               req.headers.get("X-Auth-Token", ""))
    except HTTPClientError as exc:
        _requeue(service, image_id)
        status = exc.status if exc.status in (401, 403, 404) else 503
        if status == 401:
            status = 403
        raise HTTPError(status, f"cannot read {container}/{name}: {exc}") from None
    try:
        _store_data(service, image, source, source.length, None)
    finally:
        source.close()
    return json_response(render_image(service.registry.get(image_id)), 202)


def import_info(service: ImageService, req: Request, who: Identity) -> Response:
    return json_response({"import-methods": {
        "description": "Import methods available.", "type": "array",
        "value": list(IMPORT_METHODS),
    }})
