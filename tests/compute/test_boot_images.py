"""kernel_id / ramdisk_id: resolved by the compute API with the caller's own token at boot,
against the session cluster's REAL image service; the agent gets only the resolved ids.

The images (aki/ari/raw, private/deactivated/queued) are real images in the real image
service; the boots go through the in-process API (real SQLite) and, for the end-to-end case,
through the session cluster's own API and agents (test driver). The QEMU builder is checked
directly against the real image service too: it follows the instance's resolved ids and
ignores whatever the image record names.
"""
from __future__ import annotations

import os
import uuid

import pytest

from compute.conductor import build_request
from tests.compute.support import http

pytestmark = pytest.mark.cluster


class Images:
    """Images of two projects in the real image service, as their owners made them."""

    def __init__(self, settings):
        self.settings = settings
        self.mine = settings.token("demo", "alice")
        self.theirs = settings.token("other", "bob")

    def make(self, tok, name, disk_format="raw", data=b"x" * 4096, **fields) -> str:
        container = disk_format if disk_format in ("aki", "ari") else "bare"
        return self.settings.create_image(tok, f"{name}-{uuid.uuid4().hex[:6]}", data,
                                          disk_format=disk_format, container_format=container,
                                          **fields)

    def deactivate(self, tok, image_id) -> None:
        url = f"{self.settings.image_url}/v2/images/{image_id}/actions/deactivate"
        assert http("POST", url, tok)[0] == 204


@pytest.fixture(scope="module")
def boot_images(cloud_settings) -> dict[str, str]:
    images = Images(cloud_settings)
    ids = {
        "my_kernel": images.make(images.mine, "vmlinuz", "aki", os.urandom(8192)),
        "my_ramdisk": images.make(images.mine, "initrd", "ari", os.urandom(8192)),
        "my_raw": images.make(images.mine, "not-a-kernel", "raw"),
        "their_kernel": images.make(images.theirs, "private-vmlinuz", "aki"),
        "their_ramdisk": images.make(images.theirs, "private-initrd", "ari"),
        "queued_kernel": images.make(images.mine, "queued-vmlinuz", "aki", data=None),
        "deactivated_kernel": images.make(images.mine, "old-vmlinuz", "aki"),
        "public_kernel": images.make(cloud_settings.token("admin", "admin", admin=True),
                                     "public-vmlinuz", "aki", visibility="public"),
    }
    images.deactivate(images.mine, ids["deactivated_kernel"])
    ids["missing"] = str(uuid.uuid4())
    return ids


def disk_with(cloud_settings, tok, **properties) -> str:
    return Images(cloud_settings).make(tok, "disk", "raw", **properties)


@pytest.mark.parametrize("kernel, ramdisk, message", [
    ("their_kernel", None, "could not be found"),
    ("my_kernel", "their_ramdisk", "could not be found"),
    ("my_raw", None, "is not an aki image"),
    ("my_kernel", "my_kernel", "is not an ari image"),
    ("queued_kernel", None, "is not active"),
    ("deactivated_kernel", None, "is not active"),
    ("missing", None, "could not be found"),
])
def test_boot_naming_a_kernel_or_ramdisk_the_caller_may_not_use_is_400(
        api, user, cloud_settings, boot_images, kernel, ramdisk, message):
    properties = {"kernel_id": boot_images[kernel]}
    if ramdisk:
        properties["ramdisk_id"] = boot_images[ramdisk]
    disk = disk_with(cloud_settings, cloud_settings.token("demo", "alice"), **properties)
    status, body = api.boot(user, image=disk)
    assert status == 400, body
    assert message in body["badRequest"]["message"]
    assert api.core.repo.list_servers("demo", include_deleted=True) == []
    assert api.core.quotas.usage("demo") == {"instances": 0, "cores": 0, "ram": 0}


@pytest.mark.parametrize("value", ["not-an-id", "../../v2/images", "0" * 40])
def test_malformed_kernel_id_is_400(api, user, cloud_settings, value):
    disk = disk_with(cloud_settings, cloud_settings.token("demo", "alice"), kernel_id=value)
    status, body = api.boot(user, image=disk)
    assert status == 400 and "invalid kernel_id" in body["badRequest"]["message"], body


def test_own_and_public_kernels_resolve_and_only_resolved_ids_reach_the_agent(
        api, user, cloud_settings, boot_images):
    mine = cloud_settings.token("demo", "alice")
    for kernel in ("my_kernel", "public_kernel"):
        disk = disk_with(cloud_settings, mine, kernel_id=boot_images[kernel],
                         ramdisk_id=boot_images["my_ramdisk"])
        status, body = api.boot(user, image=disk)
        assert status == 202, body
        server = api.core.repo.get_server(body["server"]["id"])
        assert (server["kernel_id"], server["ramdisk_id"]) == (
            boot_images[kernel], boot_images["my_ramdisk"])
        request = build_request(server)
        assert request["instance"]["kernel_id"] == boot_images[kernel]
        assert request["instance"]["ramdisk_id"] == boot_images["my_ramdisk"]
        assert "kernel_id" not in request["image_meta"]
        assert "ramdisk_id" not in request["image_meta"]


def test_build_request_never_passes_on_kernel_properties_of_old_rows(api, user):
    """A row written before the API resolved kernels kept the raw properties in image_meta:
    they are not sent (the agent gets no kernel rather than an unchecked one)."""
    server_id = api.boot(user)[1]["server"]["id"]
    server = api.core.repo.get_server(server_id)
    server["image_meta"] = {**server["image_meta"], "kernel_id": "someone-elses",
                            "ramdisk_id": "someone-elses"}
    request = build_request(server)
    assert request["instance"]["kernel_id"] is None
    assert "kernel_id" not in request["image_meta"] and "ramdisk_id" not in request["image_meta"]


def test_own_kernel_and_ramdisk_boot_on_the_cluster_and_reach_the_agent(cloud, cloud_settings,
                                                                        boot_images):
    tok = cloud_settings.token("demo", "alice")
    disk = disk_with(cloud_settings, tok, kernel_id=boot_images["my_kernel"],
                     ramdisk_id=boot_images["my_ramdisk"])
    status, body = cloud.boot(tok, "kernel-boot", image=disk)
    assert status == 202, body
    server_id = body["server"]["id"]
    try:
        cloud.wait_status(tok, server_id, "ACTIVE")
        status, answer = cloud.post(f"/v2.1/servers/{server_id}/action", tok,
                                    {"os-getConsoleOutput": {}})
        assert status == 200, answer
        assert (f"kernel_id {boot_images['my_kernel']}, ramdisk_id {boot_images['my_ramdisk']}"
                in answer["output"])
    finally:
        cloud.delete(f"/v2.1/servers/{server_id}", tok)
    status, body = cloud.boot(tok, "stolen-kernel", image=disk_with(
        cloud_settings, tok, kernel_id=boot_images["their_kernel"]))
    assert status == 400, body


def test_qemu_builder_fetches_only_the_instance_kernel_not_the_image_property(
        cluster, cloud_settings, boot_images, tmp_path):
    """The agent's builder, against the real image service as the real service user: an
    image record naming another project's kernel is ignored; the instance's resolved kernel
    and ramdisk are fetched (and checked) into the cache."""
    from compute.config import load_agent_config
    from compute.qemu_guest import QemuGuestBuilder

    conf = load_agent_config(cluster.service_spec("agent-hv1").conf_path)
    conf.update(virt_type="qemu", instances_dir=str(tmp_path / "instances"),
                image_cache_dir=str(tmp_path / "cache"))
    builder = QemuGuestBuilder(conf)
    mine = cloud_settings.token("demo", "alice")
    disk_id = disk_with(cloud_settings, mine, kernel_id=boot_images["their_kernel"])
    image_meta = http("GET", f"{cloud_settings.image_url}/v2/images/{disk_id}", mine)[1]
    assert image_meta["kernel_id"] == boot_images["their_kernel"]
    flavor = {"vcpus": 1, "ram": 128, "disk": 0}

    def prepare(instance_id, **boot):
        instance_dir = tmp_path / "instances" / instance_id
        instance_dir.mkdir(parents=True)
        return builder.prepare({"id": instance_id, "name": "x", **boot}, image_meta, flavor,
                               str(instance_dir))

    xml = prepare(str(uuid.uuid4()))
    assert "<kernel>" not in xml
    assert builder.cache.cached_ids() == [disk_id]
    xml = prepare(str(uuid.uuid4()), kernel_id=boot_images["my_kernel"],
                  ramdisk_id=boot_images["my_ramdisk"])
    assert builder.cache.path_for(boot_images["my_kernel"]) in xml
    assert builder.cache.path_for(boot_images["my_ramdisk"]) in xml
    assert sorted(builder.cache.cached_ids()) == sorted(
        [disk_id, boot_images["my_kernel"], boot_images["my_ramdisk"]])
    assert boot_images["their_kernel"] not in builder.cache.cached_ids()
