"""Image records through the API: create, list, show, patch, delete, tags, members,
visibility rules, schemas and bad input (in-process, webob Request.blank; the app stores
image data in the session cluster's real object store and accepts the real proxy's tokens)."""
from __future__ import annotations

import uuid

import pytest
from webob import Request

from tests.imagesvc.helpers import PATCH_TYPE, Client

pytestmark = pytest.mark.cluster


@pytest.fixture
def tester(app, store):
    return Client(app, store, "test:tester")


@pytest.fixture
def other(app, store):
    """Another real project of the cluster (test2), which owns nothing here."""
    return Client(app, store, "test2:tester2")


@pytest.fixture
def admin(app, store):
    return Client(app, store, "admin:admin")


def test_versions_and_schemas_are_public(app):
    assert Request.blank("/versions").get_response(app).json["versions"][0]["status"] == (
        "CURRENT"
    )
    assert Request.blank("/").get_response(app).status_int == 300
    for name in ("image", "images", "member", "members"):
        doc = Request.blank(f"/v2/schemas/{name}").get_response(app).json
        assert doc["name"] == name
    image_schema = Request.blank("/v2/schemas/image").get_response(app).json
    assert image_schema["additionalProperties"] == {"type": "string"}


def test_no_or_bad_token_is_401(app):
    assert Request.blank("/v2/images").get_response(app).status_int == 401
    req = Request.blank("/v2/images", headers={"X-Auth-Token": "BRM_forged.sig"})
    assert req.get_response(app).status_int == 401


def test_create_defaults_and_extra_properties(tester):
    image = tester.create(name="cirros", disk_format="qcow2", container_format="bare",
                          tags=["b", "a", "a"], min_ram=64, os_distro="cirros")
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["owner"] == "test"
    assert image["tags"] == ["a", "b"]
    assert image["os_distro"] == "cirros"
    assert image["size"] is None and image["checksum"] is None
    assert image["self"] == f"/v2/images/{image['id']}"
    assert tester.show(image["id"]).json == image


def test_create_with_own_id_and_duplicate(tester):
    wanted = str(uuid.uuid4())
    assert tester.create(id=wanted, name="x")["id"] == wanted
    assert tester.call("POST", "/v2/images", {"id": wanted}).status_int == 409


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        ({"disk_format": "floppy"}, 400),
        ({"container_format": "zip"}, 400),
        ({"visibility": "everyone"}, 400),
        ({"min_ram": -1}, 400),
        ({"min_disk": "ten"}, 400),
        ({"protected": "yes"}, 400),
        ({"tags": "not-a-list"}, 400),
        ({"id": "not-a-uuid"}, 400),
        ({"custom": 5}, 400),
        ({"custom": {"nested": "x"}}, 400),
        ({"status": "active"}, 403),
        ({"checksum": "abc"}, 403),
        ({"size": 5}, 403),
        ({"deleted": True}, 403),
        ({"os_glance_import_method": "x"}, 403),
        ({"visibility": "public"}, 403),
        ({"owner": "someone-else"}, 403),
    ],
)
def test_bad_create_is_refused_and_creates_nothing(tester, body, status):
    if isinstance(body, bytes):
        response = tester.call("POST", "/v2/images", body, content_type="application/json")
    else:
        response = tester.call("POST", "/v2/images", body)
    assert response.status_int == status, response.text
    assert tester.call("GET", "/v2/images").json["images"] == []


def test_admin_may_create_public_images(admin, other):
    image = admin.create(name="pub", visibility="public")
    assert image["visibility"] == "public"
    assert [i["id"] for i in other.call("GET", "/v2/images").json["images"]] == [image["id"]]


def test_patch_operations(tester):
    image = tester.create(name="one", disk_format="raw", container_format="bare")
    path = image["id"]
    response = tester.patch(path, [
        {"op": "replace", "path": "/name", "value": "two"},
        {"op": "add", "path": "/tags", "value": ["x"]},
        {"op": "add", "path": "/min_ram", "value": 512},
        {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
        {"op": "add", "path": "/a~0b", "value": "tilde"},
    ])
    assert response.status_int == 200, response.text
    doc = response.json
    assert (doc["name"], doc["tags"], doc["min_ram"]) == ("two", ["x"], 512)
    assert doc["hw_disk_bus"] == "virtio" and doc["a~b"] == "tilde"
    response = tester.patch(path, [{"op": "remove", "path": "/hw_disk_bus"}])
    assert "hw_disk_bus" not in response.json
    assert tester.patch(path, [{"op": "replace", "path": "/visibility",
                                "value": "community"}]).json["visibility"] == "community"


@pytest.mark.parametrize(
    "ops, status",
    [
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/checksum", "value": "x"}], 403),
        ([{"op": "replace", "path": "/id", "value": str(uuid.uuid4())}], 403),
        ([{"op": "add", "path": "/size", "value": 1}], 403),
        ([{"op": "remove", "path": "/name"}], 403),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403),
        ([{"op": "replace", "path": "/owner", "value": "demo"}], 403),
        ([{"op": "replace", "path": "/name/first", "value": "x"}], 400),
        ([{"op": "replace", "path": "name", "value": "x"}], 400),
        ([{"op": "replace", "path": "/", "value": "x"}], 400),
        ([{"op": "move", "path": "/name", "from": "/x"}], 400),
        ([{"op": "replace", "path": "/name"}], 400),
        ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400),
        ([{"op": "replace", "path": "/min_disk", "value": -5}], 400),
        ([{"op": "add", "path": "/custom", "value": 7}], 400),
        ({"op": "replace", "path": "/name", "value": "x"}, 400),
        ([{"op": "replace", "path": "/not_there", "value": "x"}], 409),
        ([{"op": "remove", "path": "/not_there"}], 409),
        # A valid first operation must not survive a failing second one.
        ([{"op": "replace", "path": "/name", "value": "changed"},
          {"op": "replace", "path": "/status", "value": "x"}], 403),
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(tester, ops, status):
    image = tester.create(name="orig", disk_format="raw", container_format="bare")
    response = tester.patch(image["id"], ops)
    assert response.status_int == status, response.text
    assert tester.show(image["id"]).json == image


def test_patch_needs_the_patch_media_type_and_json(tester):
    image = tester.create(name="orig")
    ops = [{"op": "replace", "path": "/name", "value": "x"}]
    assert tester.call("PATCH", f"/v2/images/{image['id']}", ops).status_int == 415
    bad = tester.call("PATCH", f"/v2/images/{image['id']}", b"[{", content_type=PATCH_TYPE)
    assert bad.status_int == 400
    assert tester.show(image["id"]).json == image


def test_formats_are_frozen_once_active(tester):
    image = tester.create(name="i", disk_format="raw", container_format="bare")
    assert tester.upload(image["id"], b"abc").status_int == 204
    response = tester.patch(image["id"], [{"op": "replace", "path": "/disk_format",
                                           "value": "iso"}])
    assert response.status_int == 403


def test_tags_endpoints(tester):
    image = tester.create(name="t")
    assert tester.call("PUT", f"/v2/images/{image['id']}/tags/blue").status_int == 204
    assert tester.call("PUT", f"/v2/images/{image['id']}/tags/blue").status_int == 204
    assert tester.show(image["id"]).json["tags"] == ["blue"]
    assert tester.call("DELETE", f"/v2/images/{image['id']}/tags/blue").status_int == 204
    assert tester.call("DELETE", f"/v2/images/{image['id']}/tags/blue").status_int == 404


def test_private_image_is_invisible_to_other_projects(tester, other, admin):
    image = tester.create(name="secret", visibility="private")
    assert other.show(image["id"]).status_int == 404
    assert other.call("GET", f"/v2/images/{image['id']}/file").status_int == 404
    assert other.call("DELETE", f"/v2/images/{image['id']}").status_int == 404
    assert other.call("GET", "/v2/images").json["images"] == []
    assert admin.show(image["id"]).status_int == 200


def test_sharing_and_accepting(tester, other):
    image = tester.create(name="shared", disk_format="raw", container_format="bare")
    assert tester.upload(image["id"], b"shared bytes").status_int == 204
    members = f"/v2/images/{image['id']}/members"
    response = tester.call("POST", members, {"member": "test2"})
    assert response.status_int == 200 and response.json["status"] == "pending"
    assert tester.call("POST", members, {"member": "test2"}).status_int == 409
    # Pending: usable by id, not listed.
    assert other.show(image["id"]).status_int == 200
    assert other.call("GET", "/v2/images").json["images"] == []
    pending = other.call("GET", "/v2/images?member_status=pending").json["images"]
    assert [i["id"] for i in pending] == [image["id"]]
    # Only the member decides.
    owner_try = tester.call("PUT", f"{members}/test2", {"status": "accepted"})
    assert owner_try.status_int == 403
    assert other.call("PUT", f"{members}/test2", {"status": "maybe"}).status_int == 400
    assert other.call("PUT", f"{members}/test2", {"status": "accepted"}).status_int == 200
    listed = other.call("GET", "/v2/images").json["images"]
    assert [i["id"] for i in listed] == [image["id"]]
    assert other.call("GET", f"/v2/images/{image['id']}/file").body == b"shared bytes"
    assert other.call("GET", members).json["members"][0]["member_id"] == "test2"
    # A member cannot change or delete the image.
    assert other.patch(image["id"], [{"op": "replace", "path": "/name",
                                     "value": "mine"}]).status_int == 403
    assert other.call("DELETE", f"/v2/images/{image['id']}").status_int == 403
    assert tester.call("DELETE", f"{members}/test2").status_int == 204
    assert other.show(image["id"]).status_int == 404


def test_members_only_for_shared_images(tester):
    image = tester.create(name="p", visibility="private")
    response = tester.call("POST", f"/v2/images/{image['id']}/members", {"member": "test2"})
    assert response.status_int == 403
    image = tester.create(name="s")
    for body in ({"member": 5}, {"member": ""}, {"who": "demo"}, ["demo"]):
        response = tester.call("POST", f"/v2/images/{image['id']}/members", body)
        assert response.status_int == 400, body


def test_community_images_are_listed_only_on_request(tester, other):
    image = tester.create(name="c", visibility="community")
    assert other.call("GET", "/v2/images").json["images"] == []
    listed = other.call("GET", "/v2/images?visibility=community").json["images"]
    assert [i["id"] for i in listed] == [image["id"]]
    assert other.show(image["id"]).status_int == 200
    assert [i["id"] for i in tester.call("GET", "/v2/images").json["images"]] == [image["id"]]


def test_list_filters_sorting_and_paging(tester):
    ids = []
    for index, fmt in enumerate(["raw", "qcow2", "raw", "iso", "raw"]):
        image = tester.create(name=f"img-{index}", disk_format=fmt, container_format="bare",
                              tags=["even"] if index % 2 == 0 else [], flavor=str(index % 2))
        ids.append(image["id"])
    assert tester.upload(ids[0], b"a" * 10).status_int == 204
    assert tester.upload(ids[2], b"a" * 1000).status_int == 204

    def names(query):
        response = tester.call("GET", "/v2/images" + query)
        assert response.status_int == 200, response.text
        return [image["name"] for image in response.json["images"]]

    assert names("?sort_key=name&sort_dir=asc") == [f"img-{i}" for i in range(5)]
    assert names("?sort=name:desc") == [f"img-{i}" for i in reversed(range(5))]
    assert names("?disk_format=raw&sort_key=name&sort_dir=asc") == ["img-0", "img-2", "img-4"]
    assert names("?tag=even&status=active&sort_key=name&sort_dir=asc") == ["img-0", "img-2"]
    assert names("?size_min=100") == ["img-2"]
    assert names("?size_max=100") == ["img-0"]
    assert names("?flavor=1&sort_key=name&sort_dir=asc") == ["img-1", "img-3"]
    assert names("?name=img-3") == ["img-3"]
    seen, url = [], "/v2/images?limit=2&sort_key=name&sort_dir=asc"
    while url:
        page = tester.call("GET", url).json
        assert page["first"] == "/v2/images" and page["schema"] == "/v2/schemas/images"
        seen += [image["name"] for image in page["images"]]
        url = page.get("next")
    assert seen == [f"img-{i}" for i in range(5)]


@pytest.mark.parametrize("query", ["?limit=x", "?limit=-1", "?sort_key=bogus",
                                   "?sort_dir=up", "?marker=nope", "?size_min=big",
                                   "?visibility=everyone", "?member_status=maybe"])
def test_bad_list_queries_are_400(tester, query):
    assert tester.call("GET", "/v2/images" + query).status_int == 400


def test_unknown_routes_and_methods(tester):
    assert tester.call("GET", "/v2/nothing").status_int == 404
    response = tester.call("POST", f"/v2/images/{uuid.uuid4()}")
    assert response.status_int == 405
    assert tester.show(str(uuid.uuid4())).status_int == 404
