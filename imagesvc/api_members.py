"""Handlers for image members: an owner shares a `shared` image with other projects, each
member project accepts or rejects it (only then does it show in that project's list).
"""
from __future__ import annotations

from webob import Request, Response

from common.http_errors import HTTPError
from imagesvc import schema
from imagesvc.http_common import json_response, read_json
from imagesvc.policy import Identity, can_modify
from imagesvc.service import ImageService


def _member_or_404(service: ImageService, image_id: str, member: str) -> dict:
    found = service.registry.get_member(image_id, member)
    if found is None:
        raise HTTPError(404, f"{member} is not a member of image {image_id}")
    return found


def list_members(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    image = service.visible_image(image_id, who)
    if can_modify(image, who):
        members = service.registry.list_members(image_id)
    else:
        own = service.registry.get_member(image_id, who.project)
        members = [own] if own else []
    return json_response({"members": [schema.render_member(m) for m in members],
                          "schema": "/v2/schemas/members"})


def add_member(service: ImageService, req: Request, who: Identity, image_id: str) -> Response:
    image = service.owned_image(image_id, who)
    doc = read_json(req)
    member = doc.get("member") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or set(doc) != {"member"}:
        raise HTTPError(400, 'body must be {"member": "<project>"}')
    if not isinstance(member, str) or not member or len(member) > 255 or "/" in member:
        raise HTTPError(400, "member must be a project name (1-255 characters, no '/')")
    if image["visibility"] != "shared":
        raise HTTPError(403, "Only shared images have members.")
    if member == image["owner"]:
        raise HTTPError(400, "the owner cannot be a member of its own image")
    added = service.registry.add_member(image_id, member)
    if added is None:
        raise HTTPError(409, f"{member} is already a member of image {image_id}")
    return json_response(schema.render_member(added))


def show_member(service: ImageService, req: Request, who: Identity, image_id: str,
                member: str) -> Response:
    image = service.visible_image(image_id, who)
    if not can_modify(image, who) and member != who.project:
        raise HTTPError(404, f"{member} is not a member of image {image_id}")
    return json_response(schema.render_member(_member_or_404(service, image_id, member)))


def update_member(service: ImageService, req: Request, who: Identity, image_id: str,
                  member: str) -> Response:
    image = service.visible_image(image_id, who)
    _member_or_404(service, image_id, member)
    if member != who.project:
        if can_modify(image, who):
            raise HTTPError(403, "only the member project may accept or reject an image")
        raise HTTPError(404, f"{member} is not a member of image {image_id}")
    doc = read_json(req)
    status = doc.get("status") if isinstance(doc, dict) else None
    if status not in schema.MEMBER_STATUSES:
        raise HTTPError(400, "status must be one of: " + ", ".join(schema.MEMBER_STATUSES))
    updated = service.registry.set_member_status(image_id, member, status)
    if updated is None:
        raise HTTPError(404, f"{member} is not a member of image {image_id}")
    return json_response(schema.render_member(updated))


def delete_member(service: ImageService, req: Request, who: Identity, image_id: str,
                  member: str) -> Response:
    service.owned_image(image_id, who)
    if not service.registry.delete_member(image_id, member):
        raise HTTPError(404, f"{member} is not a member of image {image_id}")
    return Response(status=204)
