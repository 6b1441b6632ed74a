"""Image data through the API: uploads (single object and parallel SLO), downloads, the
checks that reject bad data, and cleanup after failures. The data goes to the session
cluster's REAL object store (each test in a store account of its own, inspected through the
proxy); only the failures the real store cannot produce on demand are injected by a
pass-through in front of it (fault_proxy.py)."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import struct
import subprocess

import pytest

from imagesvc.schema import CONTAINER_FORMATS
from tests.imagesvc import hostile_images as hostile
from tests.imagesvc.helpers import Client

pytestmark = pytest.mark.cluster
MIB = 1024 * 1024


def qcow2_header(backing: bool = False, incompatible: int = 0, data_file_ext: bool = False,
                 version: int = 3) -> bytes:
    header = struct.pack(">4sIQIIQ", b"QFI\xfb", version, 512 if backing else 0,
                         10 if backing else 0, 16, 1 << 30)
    header += b"\x00" * (72 - len(header))
    if version == 3:
        header += struct.pack(">QQQII", incompatible, 0, 0, 4, 104)
    if data_file_ext:
        name = b"/etc/passwd"
        header += struct.pack(">II", 0x44415441, len(name)) + name.ljust(16, b"\x00")
    header += struct.pack(">II", 0, 0)
    return header.ljust(65536, b"\x00")


@pytest.fixture
def client(app, store):
    return Client(app, store)


def new_image(client, disk_format="raw", container_format="bare", **extra):
    return client.create(name="img", disk_format=disk_format, container_format=container_format,
                         **extra)


def test_small_upload_becomes_active_with_checksums(client, store):
    data = os.urandom(300 * 1024)
    image = new_image(client)
    response = client.upload(image["id"], data)
    assert response.status_int == 204, response.text
    shown = client.show(image["id"]).json
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["virtual_size"] == len(data)
    assert store.names() == {f"images/{image['id']}"}
    assert store.manifest("images", image["id"]) is None
    assert store.size(f"/images/{image['id']}") == len(data)
    download = client.call("GET", f"/v2/images/{image['id']}/file")
    assert download.status_int == 200
    assert download.body == data
    assert download.headers["Content-MD5"] == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("chunked", [False, True])
def test_big_upload_is_stored_as_parallel_segments(client, store, chunked):
    data = os.urandom(5 * MIB + 12345)
    image = new_image(client)
    response = client.upload(image["id"], data, chunked=chunked)
    assert response.status_int == 204, response.text
    segments = store.manifest("images", image["id"])
    assert len(segments) == 6
    assert [segment["bytes"] for segment in segments] == [MIB] * 5 + [12345]
    assert all(store.size(segment["name"]) == segment["bytes"] for segment in segments)
    assert store.names() == {f"images/{image['id']}"} | {
        segment["name"].lstrip("/") for segment in segments}
    shown = client.show(image["id"]).json
    assert (shown["status"], shown["size"]) == ("active", len(data))
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert client.call("GET", f"/v2/images/{image['id']}/file").body == data
    assert client.call("DELETE", f"/v2/images/{image['id']}").status_int == 204
    assert store.names() == set()


def test_chunked_small_upload_is_one_object(client, store):
    data = os.urandom(100_000)
    image = new_image(client)
    assert client.upload(image["id"], data, chunked=True).status_int == 204
    assert store.names() == {f"images/{image['id']}"}
    assert store.manifest("images", image["id"]) is None


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_content_md5_mismatch_fails_and_leaves_nothing(client, store, encoding):
    data = os.urandom(3 * MIB)
    wrong = hashlib.md5(b"other").digest()
    header = wrong.hex() if encoding == "hex" else base64.b64encode(wrong).decode()
    image = new_image(client)
    response = client.upload(image["id"], data, headers={"Content-MD5": header})
    assert response.status_int == 400
    assert "Content-MD5" in response.text
    shown = client.show(image["id"]).json
    assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    assert store.names() == set()


def test_matching_content_md5_is_accepted(client):
    data = os.urandom(1000)
    image = new_image(client)
    digest = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert client.upload(image["id"], data, headers={"Content-MD5": digest}).status_int == 204


def test_store_failure_mid_upload_leaves_image_queued_and_no_data(faulty_app, store, faults):
    client = Client(faulty_app, store)
    image = new_image(client)
    # Injected: 3 segments are stored for real, then segment PUTs fail half-way.
    faults.puts_before_failure, faults.fail_put_after = 3, MIB // 2
    response = client.upload(image["id"], os.urandom(6 * MIB))
    assert response.status_int == 503
    assert faults.stored_puts == 3  # real data the service then had to delete
    assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()
    faults.fail_put_after = None
    data = os.urandom(3 * MIB)
    assert client.upload(image["id"], data).status_int == 204
    assert client.call("GET", f"/v2/images/{image['id']}/file").body == data


def test_upload_while_no_object_server_runs_fails_cleanly(client, store, cluster,
                                                         monkeypatch):
    monkeypatch.setattr("common.object_store.RETRY_DELAYS", (0.05, 0.05))  # fail fast, not slow
    image = new_image(client)
    with contextlib.ExitStack() as down:  # every object server dead: writes get 503
        for node in cluster.layout.nodes:
            down.enter_context(cluster.server_down(node, "object"))
        response = client.upload(image["id"], os.urandom(3 * MIB))
        assert response.status_int == 503, response.text
        assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()
    data = os.urandom(3 * MIB)
    assert client.upload(image["id"], data).status_int == 204
    assert client.call("GET", f"/v2/images/{image['id']}/file").body == data


def test_truncated_body_fails_and_leaves_nothing(client, store, app):
    import io

    from webob import Request

    image = new_image(client)
    req = Request.blank(f"/v2/images/{image['id']}/file", method="PUT")
    req.headers["X-Auth-Token"] = client.token
    req.content_type = "application/octet-stream"
    req.environ["wsgi.input"] = io.BytesIO(os.urandom(3 * MIB))
    req.environ["CONTENT_LENGTH"] = str(4 * MIB)
    response = req.get_response(app)
    assert response.status_int == 400
    assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


def test_upload_needs_queued_image_and_formats(client):
    image = client.create(name="no formats")
    assert client.upload(image["id"], b"abc").status_int == 400
    assert client.show(image["id"]).json["status"] == "queued"
    image = new_image(client)
    assert client.upload(image["id"], b"abc").status_int == 204
    assert client.upload(image["id"], b"again").status_int == 409


def test_second_concurrent_upload_gets_409(client, app):
    from common.http_errors import HTTPError

    image = new_image(client)
    service = app.service
    assert service.registry.update(image["id"], {"status": "saving"}, expect_status=("queued",))
    response = client.upload(image["id"], b"data")
    assert response.status_int == 409
    with pytest.raises(HTTPError):
        from imagesvc.api_data import _begin_upload

        _begin_upload(service, _identity(), image["id"])


def _identity():
    from imagesvc.policy import Identity

    return Identity("test", "tester", frozenset({"member", "reader"}))


def test_wrong_content_type_is_415(client):
    image = new_image(client)
    response = client.upload(image["id"], b"abc", content_type="text/plain")
    assert response.status_int == 415


def test_download_of_queued_image_is_204(client):
    image = new_image(client)
    assert client.call("GET", f"/v2/images/{image['id']}/file").status_int == 204


@pytest.mark.parametrize(
    "disk_format, data, message",
    [
        ("qcow2", os.urandom(70000), "not a qcow2"),
        ("raw", qcow2_header(), "qcow2"),
        ("iso", qcow2_header(), "qcow2"),
        ("qcow2", qcow2_header(backing=True), "backing file"),
        ("qcow2", qcow2_header(incompatible=4), "external data file"),
        ("qcow2", qcow2_header(data_file_ext=True), "external data file"),
        ("iso", os.urandom(40000), "CD001"),
        ("vhd", os.urandom(4096), "conectix"),
    ],
)
def test_format_mismatch_or_unsafe_qcow2_is_rejected(client, store, disk_format, data, message):
    image = new_image(client, disk_format=disk_format)
    response = client.upload(image["id"], data)
    assert response.status_int == 400
    assert message in response.text
    assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> dict[str, tuple[str, bytes, str]]:
    """name -> (disk_format it claims, bytes, what the refusal says), built for real."""
    where = tmp_path_factory.mktemp("hostile")
    plain_qcow2 = hostile.read(hostile.qemu_img_create(where, "plain.qcow2", "-f", "qcow2"))
    return {
        "qcow2-backing-file": ("qcow2", hostile.qcow2_with_backing_host_file(where),
                               "backing file"),
        "qcow2-data-file": ("qcow2", hostile.qcow2_with_data_file(where), "external data file"),
        "qcow2-as-raw": ("raw", plain_qcow2, "qcow2"),
        "vmdk-duplicate-createType": ("vmdk", hostile.vmdk_duplicate_create_type(),
                                      "createType"),
        "vmdk-flat-extent-outside": ("vmdk", hostile.vmdk_zero_capacity_flat_extent(),
                                     "capacity"),
        "vmdk-monolithicFlat": ("vmdk", hostile.vmdk_subformat(where, "monolithicFlat"),
                                "KDMV"),
        "vmdk-parent": ("vmdk", hostile.vmdk_with_parent(where), "parent"),
    }


HOSTILE = ("qcow2-backing-file", "qcow2-data-file", "qcow2-as-raw", "vmdk-duplicate-createType",
           "vmdk-flat-extent-outside", "vmdk-monolithicFlat", "vmdk-parent")


@pytest.mark.parametrize("container_format", CONTAINER_FORMATS)
@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_images_are_refused_whatever_the_container_format(client, store, hostile_files,
                                                                  kind, container_format):
    disk_format, data, message = hostile_files[kind]
    image = new_image(client, disk_format=disk_format, container_format=container_format)
    response = client.upload(image["id"], data)
    assert response.status_int == 400, response.text
    assert message in response.text
    shown = client.show(image["id"]).json
    assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    assert store.names() == set()


@pytest.mark.parametrize("kernel_format", ["aki", "ari", "ami"])
def test_qcow2_bytes_are_refused_as_kernel_ramdisk_or_machine_images(client, store,
                                                                     hostile_files,
                                                                     kernel_format):
    for kind in ("qcow2-backing-file", "qcow2-as-raw"):
        data = hostile_files[kind][1]
        image = new_image(client, disk_format=kernel_format, container_format=kernel_format)
        response = client.upload(image["id"], data)
        assert response.status_int == 400 and "qcow2" in response.text, response.text
        assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


def test_hostile_image_imported_from_the_object_store_is_refused(client, store,
                                                                  hostile_files):
    mine = f"mine-{store.account[-12:]}"
    store.put(f"/{mine}/evil.vmdk", hostile_files["vmdk-duplicate-createType"][1],
              user="test:tester", account="AUTH_test")
    image = new_image(client, disk_format="vmdk", container_format="ova")
    response = client.call("POST", f"/v2/images/{image['id']}/import",
                           {"method": {"name": "copy-from-object", "uri": f"{mine}/evil.vmdk"}})
    assert response.status_int == 400 and "createType" in response.text, response.text
    assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


def test_honest_images_of_every_container_format_are_accepted(client, tmp_path):
    vmdk = hostile.read(hostile.qemu_img_create(tmp_path, "ok.vmdk", "-f", "vmdk"))
    for container_format in CONTAINER_FORMATS:
        image = new_image(client, disk_format="vmdk", container_format=container_format)
        assert client.upload(image["id"], vmdk).status_int == 204
        shown = client.show(image["id"]).json
        assert (shown["status"], shown["virtual_size"]) == ("active", 1024 * 1024)


def test_unsafe_vmdk_refused_only_at_the_end_leaves_nothing_stored(client, store, tmp_path):
    """A VMDK whose header says "grain directory in the footer" and whose footer names another
    descriptor is only seen to be unsafe once the whole image (here 3+ segments) was read:
    what was stored is deleted."""
    source = tmp_path / "data.raw"
    source.write_bytes(os.urandom(3 * MIB))
    target = tmp_path / "so.vmdk"
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(source), str(target)], check=True, capture_output=True)
    data = bytearray(target.read_bytes())
    data[56:64] = struct.pack("<Q", 0xFFFFFFFFFFFFFFFF)  # grain directory: see the footer
    footer = bytearray(data[:512])
    footer[28:36] = struct.pack("<Q", 2)  # another descriptor than the header's
    data += struct.pack("<QII", 0, 0, 3).ljust(512, b"\x00")  # footer marker
    data += footer + bytes(512)  # the footer, then the end-of-stream marker
    image = new_image(client, disk_format="vmdk", container_format="bare")
    response = client.upload(image["id"], bytes(data))
    assert response.status_int == 400, response.text
    assert "safety checks" in response.text and "footer" in response.text.lower()
    assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


def test_safe_qcow2_is_accepted_with_virtual_size(client):
    image = new_image(client, disk_format="qcow2")
    assert client.upload(image["id"], qcow2_header()).status_int == 204
    assert client.show(image["id"]).json["virtual_size"] == 1 << 30


def test_delete_removes_data_and_protected_images_stay(client, store):
    image = new_image(client, protected=True)
    assert client.upload(image["id"], os.urandom(1000)).status_int == 204
    assert client.call("DELETE", f"/v2/images/{image['id']}").status_int == 403
    assert store.names()
    patched = client.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert patched.status_int == 200
    assert client.call("DELETE", f"/v2/images/{image['id']}").status_int == 204
    assert store.names() == set()
    assert client.show(image["id"]).status_int == 404


def test_deactivated_image_data_is_withheld_from_non_admins(client, store, app):
    image = new_image(client)
    assert client.upload(image["id"], b"x" * 100).status_int == 204
    deactivate = f"/v2/images/{image['id']}/actions/deactivate"
    assert client.call("POST", deactivate).status_int == 204
    assert client.show(image["id"]).json["status"] == "deactivated"
    assert client.call("GET", f"/v2/images/{image['id']}/file").status_int == 403
    admin = Client(app, store, "admin:admin")
    assert admin.call("GET", f"/v2/images/{image['id']}/file").body == b"x" * 100
    assert client.call("POST", f"/v2/images/{image['id']}/actions/reactivate").status_int == 204
    assert client.call("GET", f"/v2/images/{image['id']}/file").status_int == 200


def test_deactivate_queued_image_is_forbidden(client):
    image = new_image(client)
    assert client.call("POST", f"/v2/images/{image['id']}/actions/deactivate").status_int == 403


def test_import_copies_from_the_callers_object_store(client, store):
    data = os.urandom(3 * MIB + 7)
    mine = f"mine-{store.account[-12:]}"
    store.put(f"/{mine}/disk.raw", data, user="test:tester", account="AUTH_test")
    image = new_image(client)
    response = client.call("POST", f"/v2/images/{image['id']}/import",
                           {"method": {"name": "copy-from-object", "uri": f"{mine}/disk.raw"}})
    assert response.status_int == 202, response.text
    shown = client.show(image["id"]).json
    assert shown["status"] == "active"
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert client.call("GET", f"/v2/images/{image['id']}/file").body == data
    missing = new_image(client)
    response = client.call("POST", f"/v2/images/{missing['id']}/import",
                           {"method": {"name": "copy-from-object", "uri": f"{mine}/nope"}})
    assert response.status_int == 404
    assert client.show(missing["id"]).json["status"] == "queued"


@pytest.mark.parametrize("account", ["AUTH_test/../AUTH_other", "..", ".", "AUTH_a\x00b",
                                     "AUTH_a\nb", "x" * 300, 12, ["AUTH_test"]])
def test_import_with_a_bad_account_is_400_and_changes_nothing(client, store, account):
    image = new_image(client)
    response = client.call("POST", f"/v2/images/{image['id']}/import", {"method": {
        "name": "copy-from-object", "uri": "c/o", "account": account}})
    assert response.status_int == 400, response.text
    assert "account" in response.text
    assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


@pytest.mark.parametrize("uri", ["c/\x00", "c" * 300 + "/o", "/", "no-object"])
def test_import_with_a_bad_uri_is_400(client, uri):
    image = new_image(client)
    response = client.call("POST", f"/v2/images/{image['id']}/import", {"method": {
        "name": "copy-from-object", "uri": uri}})
    assert response.status_int == 400, response.text
    assert client.show(image["id"]).json["status"] == "queued"


def test_import_account_is_quoted_as_one_path_segment(client, store):
    """Unquoted, "AUTH_test?format=json" made the service GET /v1/AUTH_test?format=json/...:
    the caller's account listing, registered as image data. Quoted, it names an account
    the caller does not own."""
    mine = f"mine-{store.account[-12:]}"
    store.put(f"/{mine}/disk.raw", os.urandom(1000), user="test:tester", account="AUTH_test")
    for account in ("AUTH_test?format=json", "AUTH_test#frag", "AUTH_test%2F..%2FAUTH_x"):
        image = new_image(client)
        response = client.call("POST", f"/v2/images/{image['id']}/import", {"method": {
            "name": "copy-from-object", "uri": f"{mine}/disk.raw", "account": account}})
        assert response.status_int in (403, 404), (account, response.text)
        assert client.show(image["id"]).json["status"] == "queued"
    assert store.names() == set()


def test_restart_requeues_interrupted_uploads_and_deletes_their_data(client, store, app,
                                                                     tmp_path):
    from imagesvc.server import make_app
    from tests.imagesvc.conftest import write_conf
    from tests.integration.support import wait_until

    image = new_image(client)
    service = app.service
    pending = service.writer.pending_location(image["id"])
    assert service.registry.update(image["id"], {"status": "saving"},
                                   expect_status=("queued",), location=pending)
    for index in range(5):  # segments a crashed upload left behind
        store.put(f"/images_segments/{pending['segment_prefix']}{index:08d}", b"partial")
    unrelated = "images_segments/other-image/abc/00000000"
    store.put("/" + unrelated, b"keep")
    assert len(store.names()) == 6
    restarted = make_app(write_conf(tmp_path, store))
    assert Client(restarted, store).show(image["id"]).json["status"] == "queued"
    wait_until(lambda: store.names() == {unrelated}, timeout=10)


def test_segments_upload_in_parallel_within_the_concurrency_bound(faulty_app, store, faults):
    # upload_concurrency is 3 in the test config; the pass-through holds each answer a little.
    client = Client(faulty_app, store)
    faults.hold_until_active = 3
    data = os.urandom(8 * MIB)
    image = new_image(client)
    assert client.upload(image["id"], data).status_int == 204
    assert faults.max_active_puts == 3
    assert len(store.manifest("images", image["id"])) == 8
    assert client.call("GET", f"/v2/images/{image['id']}/file").body == data


def test_data_the_store_could_not_delete_is_removed_after_a_restart(client, store, app,
                                                                     tmp_path, cluster,
                                                                     monkeypatch):
    from imagesvc.server import make_app
    from tests.imagesvc.conftest import write_conf
    from tests.integration.support import wait_until

    monkeypatch.setattr("common.object_store.RETRY_DELAYS", (0.05, 0.05))  # fail fast, not slow
    image = new_image(client)
    assert client.upload(image["id"], os.urandom(3 * MIB)).status_int == 204
    stored = store.names()
    assert len(stored) == 4
    with contextlib.ExitStack() as down:  # every object server dead: deletes get 503
        for node in cluster.layout.nodes:
            down.enter_context(cluster.server_down(node, "object"))
        assert client.call("DELETE", f"/v2/images/{image['id']}").status_int == 204
        assert client.show(image["id"]).status_int == 404
        assert [i for i, _ in app.service.registry.deleted_with_data()] == [image["id"]]
    assert store.names() == stored
    restarted = make_app(write_conf(tmp_path, store))
    wait_until(lambda: store.names() == set(), timeout=20)
    wait_until(lambda: restarted.service.registry.deleted_with_data() == [], timeout=10)


def test_a_busy_store_answering_503_to_the_manifest_is_retried(faulty_app, store, faults):
    client = Client(faulty_app, store)
    faults.manifest_failures = 1  # injected: the real proxy accepts a valid manifest
    data = os.urandom(3 * MIB)
    image = new_image(client)
    assert client.upload(image["id"], data).status_int == 204
    assert faults.manifest_failures == 0
    assert len(store.manifest("images", image["id"])) == 3
    assert client.call("GET", f"/v2/images/{image['id']}/file").body == data
