"""The object server's config: the sample in etc/ loads, and every mistake is one clear line."""
from __future__ import annotations

import configparser
import os
import subprocess

import pytest

from common.config import ConfigError
from storage.objects.server import OBJECT_SERVER_OPTIONS, ObjectServer, make_app
from tests.storage import signing
from tests.storage.conftest import write_object_conf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "etc", "object-server.conf")


def test_sample_config_builds_the_app(tmp_path):
    conf_dir, devices, _ = write_object_conf(tmp_path)
    text = open(SAMPLE).read()
    text = text.replace("conf_dir = /etc/brume", f"conf_dir = {conf_dir}")
    text = text.replace("devices = /srv/node", f"devices = {devices}")
    conf = tmp_path / "sample.conf"
    conf.write_text(text)
    app = make_app(str(conf))
    assert isinstance(app, ObjectServer)
    assert app.diskfiles.devices_root == devices


def test_sample_config_documents_every_option():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SAMPLE)
    assert parser.get("server", "app") == "storage.objects.server:make_app"
    assert parser.get("server", "bind_port") == "6200"
    text = open(SAMPLE).read()
    for option in OBJECT_SERVER_OPTIONS:
        assert f"{option.name} =" in text, option.name


@pytest.mark.parametrize(
    "edit,message",
    [
        (("node_timeout = 2.0", "node_timeout = soon"), "bad value for 'node_timeout'"),
        (("node_timeout = 2.0", "node_timeout = 0"), "node_timeout must be positive"),
        (("node_timeout = 2.0", "node_timeout = 2\ncolour = red"), "unknown option 'colour'"),
        (("[object-server]", "[objects]"), "missing section [object-server]"),
    ],
)
def test_config_mistakes_are_one_line(tmp_path, edit, message):
    _, _, conf_path = write_object_conf(tmp_path)
    with open(conf_path) as handle:
        text = handle.read()
    text = text.replace(*edit)
    with open(conf_path, "w") as handle:
        handle.write(text)
    with pytest.raises(ConfigError) as info:
        make_app(conf_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_conf_dir_and_brume_conf(tmp_path):
    conf_dir, _, conf_path = write_object_conf(tmp_path)
    text = open(conf_path).read()
    with open(conf_path, "w") as handle:
        handle.write(text.replace(f"conf_dir = {conf_dir}\n", ""))
    with pytest.raises(ConfigError, match="conf_dir is required"):
        make_app(conf_path)
    with open(conf_path, "w") as handle:
        handle.write(text)
    os.unlink(os.path.join(conf_dir, "brume.conf"))
    with pytest.raises(ConfigError, match="brume.conf"):
        make_app(conf_path)


def test_mount_check_refuses_unmounted_devices(tmp_path):
    from webob import Request

    _, _, conf_path = write_object_conf(tmp_path)
    with open(conf_path, "a") as handle:
        handle.write("mount_check = true\n")
    app = make_app(conf_path)
    req = Request.blank("/sda/1/a/c/o", method="PUT", body=b"x",
                        headers={"X-Timestamp": "1700000000.00000"})
    assert signing.sign(req, app.backend_auth).get_response(app).status_int == 507


def test_get_md5_check_can_be_turned_off_blocks_still_checked(tmp_path):
    from webob import Request

    _, devices, conf_path = write_object_conf(tmp_path)
    with open(conf_path, "a") as handle:
        handle.write("get_md5_check = false\n")
    app = make_app(conf_path)
    assert app.get_md5_check is False
    put = Request.blank("/sda/1/a/c/o", method="PUT", body=b"k" * 100,
                        headers={"X-Timestamp": "1700000000.00000"})
    assert signing.sign(put, app.backend_auth).get_response(app).status_int == 201
    # corrupt the stored ETag only: without the MD5 check the (CRC-valid) body is served
    from storage.objects.metadata import read_metadata, write_metadata_fd

    [path] = [os.path.join(d, f) for d, _, fs in os.walk(devices) for f in fs
              if f.endswith(".data")]
    metadata = read_metadata(path)
    metadata["ETag"] = "0" * 32
    fd = os.open(path, os.O_RDWR)
    try:
        os.removexattr(fd, "user.brume.metadata")
        write_metadata_fd(fd, metadata, 104)
    finally:
        os.close(fd)
    assert signing.blank(app.backend_auth, "/sda/1/a/c/o").get_response(app).body == b"k" * 100


def resident_bytes(path: str) -> int:
    """Bytes of `path` in the page cache (util-linux's fincore)."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def stored_small_and_large(tmp_path, read_back: bool, setting: str) -> dict[str, str]:
    """PUT (and with `read_back` GET) a body under and one over `<setting> = 200000`;
    {name: its .data path}."""
    from webob import Request

    _, devices, conf_path = write_object_conf(tmp_path)
    with open(conf_path, "a") as handle:
        handle.write(f"{setting} = 200000\n")
    app = make_app(conf_path)
    paths: dict[str, str] = {}
    for name, size in {"small": 150_000, "large": 1_000_000}.items():
        put = Request.blank(f"/sda/1/a/c/{name}", method="PUT", body=os.urandom(size),
                            headers={"X-Timestamp": "1700000000.00000"})
        assert signing.sign(put, app.backend_auth).get_response(app).status_int == 201
        if read_back:
            got = signing.blank(app.backend_auth, f"/sda/1/a/c/{name}").get_response(app)
            assert len(got.body) == size
        [paths[name]] = [os.path.join(root, f) for root, _d, names in os.walk(devices)
                         for f in names if f.endswith(".data")
                         and os.path.join(root, f) not in paths.values()]
    return paths


def test_bodies_larger_than_keep_written_size_leave_the_page_cache_once_durable(tmp_path):
    paths = stored_small_and_large(tmp_path, read_back=False, setting="keep_written_size")
    assert resident_bytes(paths["small"]) >= 150_000  # kept for the GETs that often follow
    assert resident_bytes(paths["large"]) == 0


def test_by_default_a_written_body_over_64_kib_leaves_the_page_cache(tmp_path):
    paths = stored_small_and_large(tmp_path, read_back=False, setting="keep_cache_size")
    assert resident_bytes(paths["small"]) == 0
    assert resident_bytes(paths["large"]) == 0


def test_a_large_body_read_leaves_the_page_cache_a_small_one_stays(tmp_path):
    # both left the cache once written (over keep_written_size); reading brings them back
    paths = stored_small_and_large(tmp_path, read_back=True, setting="keep_cache_size")
    assert resident_bytes(paths["small"]) >= 150_000
    assert resident_bytes(paths["large"]) == 0
