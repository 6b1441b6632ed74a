"""Fuzzing the image API in-process, storing into the real cluster: no bad input gets a 5xx.

The app is built from a config the way the runner builds it, in a store account of its own
on the session cluster, with one active image (bytes uploaded), one queued image and a
shared one, so requests reach real records and real object-store reads. The fuzzer breaks
valid requests of every kind (create, list, show, patch, upload, download, import, tags,
members, actions) drawn by `tests.shared.http_fuzz`.
"""
from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.imagesvc.conftest import write_conf
from tests.imagesvc.helpers import PATCH_TYPE, Client
from tests.imagesvc.store_view import StoreView
from tests.shared.http_fuzz import (
    FUZZ_SETTINGS,
    FuzzRequest,
    FuzzSpec,
    assert_handled,
    classic_breakages,
    mutated,
)

FIELDS = ["name", "id", "disk_format", "container_format", "visibility", "min_disk", "min_ram",
          "protected", "tags", "os_hidden", "op", "path", "value", "from", "member", "status",
          "method", "uri", "checksum", "size", "owner", "hw_disk_bus"]


@pytest.fixture(scope="module")
def fuzz_app(cluster, store_settings, tmp_path_factory):
    from imagesvc.server import make_app

    store = StoreView(cluster, store_settings, f"AUTH_imgfuzz-{uuid.uuid4().hex[:12]}", {})
    app = make_app(write_conf(tmp_path_factory.mktemp("image-fuzz"), store))
    owner = Client(app, store, "fuzz:owner")
    active = owner.create(name="active", disk_format="raw", container_format="bare")
    assert owner.upload(active["id"], b"x" * 4096).status_int == 204
    queued = owner.create(name="queued", disk_format="qcow2", container_format="bare")
    shared = owner.create(name="shared", disk_format="raw", container_format="bare",
                          visibility="shared")
    yield app, owner.token, store.token("other:someone"), active["id"], queued["id"], \
        shared["id"]
    store.remove_everything()


def spec(tokens: list[str], ids: list[str]) -> FuzzSpec:
    return FuzzSpec(
        segments=["v2", "images", "file", "import", "tags", "members", "actions", "deactivate",
                  "reactivate", "schemas", "image", "info", "other", *ids],
        header_names=["X-Auth-Token", "Content-Type", "Range", "Accept",
                      "X-Image-Meta-Checksum", "Transfer-Encoding", "OpenStack-API-Version"],
        likely_values={"X-Auth-Token": st.sampled_from(tokens + [tokens[0] + "x"]),
                       "Content-Type": st.sampled_from([PATCH_TYPE, "application/json",
                                                        "application/octet-stream"]),
                       "Range": st.sampled_from(["bytes=0-3", "bytes=-2", "bytes=9999-"])},
        query_keys=["limit", "marker", "sort_key", "sort_dir", "sort", "name", "status",
                    "visibility", "member_status", "owner", "tag", "size_min", "size_max",
                    "disk_format", "container_format", "os_hidden", "protected", "id",
                    "created_at", "updated_at"],
        queries=["limit=1", "sort=name:asc,size:desc", "visibility=all", "marker=x",
                 "member_status=all", "size_min=1&size_max=0", "created_at=gte:2020-01-01"],
        json_keys=FIELDS,
        methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "X"],
    )


def bases(token: str, active: str, queued: str, shared: str) -> list[FuzzRequest]:
    auth = {"X-Auth-Token": token}
    as_json = {**auth, "Content-Type": "application/json"}
    patch = {**auth, "Content-Type": PATCH_TYPE}

    def body(doc) -> bytes:
        return json.dumps(doc).encode()

    return [
        FuzzRequest("GET", "/"),
        FuzzRequest("GET", "/v2/schemas/image"),
        FuzzRequest("POST", "/v2/images", "", as_json, body({
            "name": "n", "disk_format": "raw", "container_format": "bare", "tags": ["a"],
            "min_disk": 1, "hw_disk_bus": "virtio"})),
        FuzzRequest("GET", "/v2/images", "limit=2&sort_key=name&sort_dir=desc&status=active",
                    auth),
        FuzzRequest("GET", f"/v2/images/{active}", "", auth),
        FuzzRequest("PATCH", f"/v2/images/{queued}", "", patch, body([
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
            {"op": "remove", "path": "/hw_disk_bus"}])),
        FuzzRequest("PUT", f"/v2/images/{queued}/file", "",
                    {**auth, "Content-Type": "application/octet-stream"}, b"QFI\xfb" + b"0" * 60),
        FuzzRequest("GET", f"/v2/images/{active}/file", "", {**auth, "Range": "bytes=1-9"}),
        FuzzRequest("POST", f"/v2/images/{queued}/import", "", as_json, body({
            "method": {"name": "copy-from-object", "uri": "c/o"}})),
        FuzzRequest("GET", "/v2/info/import", "", auth),
        FuzzRequest("PUT", f"/v2/images/{active}/tags/blue", "", auth),
        FuzzRequest("DELETE", f"/v2/images/{active}/tags/blue", "", auth),
        FuzzRequest("POST", f"/v2/images/{active}/actions/deactivate", "", auth),
        FuzzRequest("POST", f"/v2/images/{active}/actions/reactivate", "", auth),
        FuzzRequest("POST", f"/v2/images/{shared}/members", "", as_json,
                    body({"member": "other"})),
        FuzzRequest("PUT", f"/v2/images/{shared}/members/other", "", as_json,
                    body({"status": "accepted"})),
        FuzzRequest("GET", f"/v2/images/{shared}/members", "", auth),
        FuzzRequest("DELETE", f"/v2/images/{queued}", "", auth),
    ]


@FUZZ_SETTINGS
@given(data=st.data())
def test_image_api_answers_bad_input_below_500(fuzz_app, data):
    app, token, other, active, queued, shared = fuzz_app
    request_ = data.draw(mutated(bases(token, active, queued, shared),
                                 spec([token, other], [active, queued, shared])))
    assert_handled(app, request_)


def test_image_api_answers_classic_breakages_below_500(fuzz_app):
    app, token, _other, active, queued, shared = fuzz_app
    for broken in classic_breakages(bases(token, active, queued, shared)):
        assert_handled(app, broken)
