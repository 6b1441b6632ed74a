"""Handlers for image records: create, list, show, patch, delete, tags, (de)activation."""
from __future__ import annotations

import uuid

from webob import Request, Response

from common.http_errors import HTTPError
from imagesvc import schema
from imagesvc.http_common import json_response, query_params, read_json
from imagesvc.listing import QueryError, next_link, page_of, plan_listing
from imagesvc.patch import PATCH_CONTENT_TYPES, PatchError, apply_patch
from imagesvc.policy import Identity, may_set_visibility
from imagesvc.registry import DuplicateImage, utc_now
from imagesvc.service import ImageService


def _new_image(doc, who: Identity) -> dict:
    if not isinstance(doc, dict):
        raise HTTPError(400, "the request body must be a JSON object")
    now = utc_now()
    image = {
        "id": str(uuid.uuid4()), "name": None, "status": "queued", "visibility": "shared",
        "protected": False, "os_hidden": False, "checksum": None, "os_hash_algo": None,
        "os_hash_value": None, "owner": who.project, "size": None, "virtual_size": None,
        "min_ram": 0, "min_disk": 0, "disk_format": None, "container_format": None,
        "created_at": now, "updated_at": now, "tags": [], "properties": {},
    }
    for key, value in doc.items():
        try:
            if key == "id":
                if not schema.is_uuid(value):
                    raise HTTPError(400, f"id must be a UUID, got {value!r}")
                image["id"] = value.lower()
            elif key in schema.READ_ONLY:
                raise HTTPError(403, f"Attribute '{key}' is read-only.")
            elif key in schema.RESERVED or key.startswith(schema.RESERVED_PREFIX):
                raise HTTPError(403, f"Attribute '{key}' is reserved.")
            elif key == "owner":
                value = schema.validate_attribute(key, value)
                if value != who.project and not who.is_admin:
                    raise HTTPError(403, "only admins may create images for another owner")
                image["owner"] = value
            elif key in schema.WRITABLE:
                image[key] = schema.validate_attribute(key, value)
            else:
                image["properties"][key] = schema.validate_property(key, value)
        except schema.InvalidValue as exc:
            raise HTTPError(400, str(exc)) from None
    if len(image["properties"]) > schema.MAX_PROPERTIES:
        raise HTTPError(413, f"at most {schema.MAX_PROPERTIES} properties per image")
    if not may_set_visibility(who, image["visibility"]):
        raise HTTPError(403, "Only admins may make an image public.")
    return image


def create_image(service: ImageService, req: Request, who: Identity) -> Response:
    image = _new_image(read_json(req), who)
    try:
        created = service.registry.create(image)
    except DuplicateImage:
        raise HTTPError(409, f"an image with ID {image['id']} already exists") from None
    return json_response(schema.render_image(created), 201,
                         {"Location": f"{req.host_url}/v2/images/{created['id']}"})


def list_images(service: ImageService, req: Request, who: Identity) -> Response:
    params = query_params(req)
    try:
        query = plan_listing(params, service.config.default_limit, service.config.api_limit_max)
        page, more = page_of(service.registry.list_images(), query, who,
                             service.registry.memberships_of(who.project))
    except QueryError as exc:
        raise HTTPError(400, str(exc)) from None
    doc = {
        "images": [schema.render_image(image) for image in page],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if more and page:
        doc["next"] = next_link(params, page[-1]["id"])
    return json_response(doc)


def show_image(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    return json_response(schema.render_image(service.visible_image(image_id, who)))


def patch_image(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    if req.content_type not in PATCH_CONTENT_TYPES:
        raise HTTPError(415, f"PATCH needs Content-Type {PATCH_CONTENT_TYPES[0]}",
                        {"Accept-Patch": ", ".join(PATCH_CONTENT_TYPES)})
    image = service.owned_image(image_id, who)
    operations = read_json(req)
    try:
        changes = apply_patch(image, operations, who)
    except PatchError as exc:
        raise HTTPError(exc.status, exc.message) from None
    applied = service.registry.update(
        image_id, changes.fields, properties=changes.properties, tags=changes.tags,
        expect_status=(image["status"],),
    )
    if not applied:
        raise HTTPError(409, "the image changed while it was being updated; try again")
    return json_response(schema.render_image(service.registry.get(image_id)))


def delete_image(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    image = service.owned_image(image_id, who)
    if image["protected"]:
        raise HTTPError(403, f"Image {image_id} is protected and cannot be deleted.")
    location = service.registry.location(image_id)
    if not service.registry.mark_deleted(image_id):
        raise HTTPError(404, f"No image found with ID {image_id}")
    service.remove_data(image_id, location)
    return Response(status=204)


def add_tag(service: ImageService, req: Request, who: Identity, image_id: str,
            tag: str) -> Response:
    image = service.owned_image(image_id, who)
    try:
        schema.validate_tag(tag)
    except schema.InvalidValue as exc:
        raise HTTPError(400, str(exc)) from None
    if tag not in image["tags"] and len(image["tags"]) >= schema.MAX_TAGS:
        raise HTTPError(413, f"at most {schema.MAX_TAGS} tags per image")
    service.registry.add_tag(image_id, tag)
    return Response(status=204)


def delete_tag(service: ImageService, req: Request, who: Identity, image_id: str,
               tag: str) -> Response:
    service.owned_image(image_id, who)
    if not service.registry.remove_tag(image_id, tag):
        raise HTTPError(404, f"Tag {tag} not found on image {image_id}")
    return Response(status=204)


def deactivate(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    return _switch(service, who, image_id, "active", "deactivated")


def reactivate(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    return _switch(service, who, image_id, "deactivated", "active")


def _switch(service: ImageService, who: Identity, image_id: str, source: str,
            target: str) -> Response:
    image = service.owned_image(image_id, who)
    if image["status"] == target:
        return Response(status=204)
    if image["status"] != source:
        verb = "deactivate" if target == "deactivated" else "reactivate"
        raise HTTPError(403, f"Not allowed to {verb} an image in status '{image['status']}'")
    if not service.registry.update(image_id, {"status": target}, expect_status=(source,)):
        raise HTTPError(409, "the image changed while it was being updated; try again")
    return Response(status=204)
