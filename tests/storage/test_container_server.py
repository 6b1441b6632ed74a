"""In-process tests of the container server (webob requests against make_app, real SQLite)."""
from __future__ import annotations

import json
import os
from urllib.parse import quote
from xml.etree import ElementTree

import pytest

from common.config import ConfigError
from common.timestamp import Timestamp
from common.wsgi_server import runner_layers
from storage import SERVER_APPS
from storage.databases.container_server import make_app
from tests.storage import signing


def write_confs(tmp_path, kind: str, extra: str = "") -> tuple[str, str]:
    """conf dir with brume.conf, devices root with device sda; returns (conf path, devices)."""
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / "brume.conf").write_text(
        "[cluster]\nhash_path_prefix = test-prefix\nhash_path_suffix = test-suffix\n"
    )
    devices = tmp_path / "devices"
    (devices / "sda").mkdir(parents=True, exist_ok=True)
    conf_path = tmp_path / f"{kind}-server.conf"
    conf_path.write_text(
        f"[server]\napp = {SERVER_APPS[kind]}\nbind_port = 0\nconf_dir = {conf_dir}\n"
        f"\n[{kind}-server]\ndevices = {devices}\n{extra}"
    )
    return str(conf_path), str(devices)


class Client:
    def __init__(self, app):
        self.app = app
        self.clock = 1_700_000_000.0

    def ts(self) -> str:
        self.clock += 1
        return Timestamp(self.clock).normal

    def __call__(self, method, path, headers=None, **kwargs):
        req = signing.blank(self.app.backend_auth, path, method, headers, **kwargs)
        return req.get_response(runner_layers(self.app), catch_exc_info=True)

    def put_container(self, path="/sda/1/AUTH_a/c", **headers):
        return self("PUT", path, {"X-Timestamp": self.ts(), **headers})

    def put_object(self, name, size=1, etag="d41d8cd98f00b204e9800998ecf8427e",
                   path="/sda/1/AUTH_a/c"):
        return self("PUT", f"{path}/{name}", {
            "X-Timestamp": self.ts(), "X-Size": str(size), "X-Content-Type": "text/plain",
            "X-Etag": etag})


@pytest.fixture
def client(tmp_path):
    conf_path, _ = write_confs(tmp_path, "container")
    return Client(make_app(conf_path))


def test_create_head_and_update(client):
    assert client.put_container().status_int == 201
    assert client.put_container().status_int == 202
    resp = client("HEAD", "/sda/1/AUTH_a/c")
    assert resp.status_int == 204
    assert resp.headers["X-Container-Object-Count"] == "0"
    assert resp.headers["X-Container-Bytes-Used"] == "0"
    for name in ("X-Timestamp", "X-PUT-Timestamp", "X-Backend-Timestamp"):
        assert name in resp.headers
    assert client("HEAD", "/sda/1/AUTH_a/missing").status_int == 404


def test_object_rows_and_counts(client):
    client.put_container()
    assert client.put_object("o1", 10).status_int == 201
    assert client.put_object("o2", 5).status_int == 201
    assert client.put_object("o1", 7).status_int == 201
    resp = client("HEAD", "/sda/1/AUTH_a/c")
    assert resp.headers["X-Container-Object-Count"] == "2"
    assert resp.headers["X-Container-Bytes-Used"] == "12"
    resp = client("DELETE", "/sda/1/AUTH_a/c/o2", {"X-Timestamp": client.ts()})
    assert resp.status_int == 204
    assert client("HEAD", "/sda/1/AUTH_a/c").headers["X-Container-Object-Count"] == "1"


def test_object_row_into_missing_container_is_404(client, tmp_path):
    assert client.put_object("o", path="/sda/1/AUTH_a/nocontainer").status_int == 404
    resp = client("DELETE", "/sda/1/AUTH_a/nocontainer/o", {"X-Timestamp": client.ts()})
    assert resp.status_int == 404
    assert not os.path.exists(tmp_path / "devices" / "sda" / "containers")


def test_bad_object_rows(client):
    client.put_container()
    no_size = {"X-Timestamp": client.ts(), "X-Content-Type": "t", "X-Etag": "e"}
    assert client("PUT", "/sda/1/AUTH_a/c/o", no_size).status_int == 400
    bad_size = dict(no_size, **{"X-Size": "ten"})
    assert client("PUT", "/sda/1/AUTH_a/c/o", bad_size).status_int == 400
    no_ts = {"X-Size": "1", "X-Content-Type": "t", "X-Etag": "e"}
    assert client("PUT", "/sda/1/AUTH_a/c/o", no_ts).status_int == 400
    bad_ts = dict(no_ts, **{"X-Timestamp": "yesterday"})
    assert client("PUT", "/sda/1/AUTH_a/c/o", bad_ts).status_int == 400
    assert client.put_object("x" * 1025).status_int == 400
    assert client("HEAD", "/sda/1/AUTH_a/c").headers["X-Container-Object-Count"] == "0"


def test_listing_formats(client):
    client.put_container()
    client.put_object("a/1", 3, etag="e1")
    client.put_object("a/2", 4, etag="e2")
    client.put_object("b & <c>", 5, etag="e3")
    resp = client("GET", "/sda/1/AUTH_a/c?format=json")
    assert resp.status_int == 200
    assert resp.content_type == "application/json" and resp.charset.lower() == "utf-8"
    listing = json.loads(resp.body)
    assert [e["name"] for e in listing] == ["a/1", "a/2", "b & <c>"]
    first = listing[0]
    assert set(first) == {"name", "hash", "bytes", "content_type", "last_modified"}
    assert first["hash"] == "e1" and first["bytes"] == 3 and first["content_type"] == "text/plain"
    assert len(first["last_modified"]) == 26 and first["last_modified"][10] == "T"
    assert resp.headers["X-Container-Object-Count"] == "3"

    resp = client("GET", "/sda/1/AUTH_a/c?delimiter=/", headers={"Accept": "application/json"})
    assert json.loads(resp.body)[0] == {"subdir": "a/"}

    resp = client("GET", "/sda/1/AUTH_a/c?format=xml&delimiter=/")
    assert resp.content_type == "application/xml"
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<container name="c">')
    root = ElementTree.fromstring(resp.body)
    assert root[0].tag == "subdir" and root[0].get("name") == "a/"
    assert root[0].find("name").text == "a/"
    obj = root[1]
    assert [child.tag for child in obj] == [
        "name", "hash", "bytes", "content_type", "last_modified"]
    assert obj.find("name").text == "b & <c>"

    resp = client("GET", "/sda/1/AUTH_a/c")
    assert resp.content_type == "text/plain"
    assert resp.body == b"a/1\na/2\nb & <c>\n"
    resp = client("GET", "/sda/1/AUTH_a/c", headers={"Accept": "text/xml"})
    assert resp.content_type == "text/xml"
    assert client("GET", "/sda/1/AUTH_a/c", headers={"Accept": "image/png"}).status_int == 406


def test_listing_parameters(client):
    client.put_container()
    for name in ("a", "b", "c", "d"):
        client.put_object(name)
    assert client("GET", "/sda/1/AUTH_a/c?limit=2&marker=a").body == b"b\nc\n"
    assert client("GET", "/sda/1/AUTH_a/c?end_marker=c").body == b"a\nb\n"
    assert client("GET", "/sda/1/AUTH_a/c?reverse=on&limit=2").body == b"d\nc\n"
    assert client("GET", "/sda/1/AUTH_a/c?prefix=c").body == b"c\n"
    empty = client("GET", "/sda/1/AUTH_a/c?prefix=zzz")
    assert empty.status_int == 204 and empty.body == b""
    assert client("GET", "/sda/1/AUTH_a/c?prefix=zzz&format=json").body == b"[]"
    xml_empty = client("GET", "/sda/1/AUTH_a/c?prefix=zzz&format=xml").body
    assert xml_empty == b'<?xml version="1.0" encoding="UTF-8"?>\n<container name="c" />'
    assert client("GET", "/sda/1/AUTH_a/c?limit=10001").status_int == 412
    assert client("GET", "/sda/1/AUTH_a/c?limit=many").status_int == 200  # ignored (Swift)
    assert client("GET", "/sda/1/AUTH_a/c?marker=%FF").status_int == 400
    assert client("GET", "/sda/1/AUTH_a/nope").status_int == 404


def test_post_metadata_and_acls(client):
    client.put_container(**{"X-Container-Meta-Color": "red"})
    resp = client("POST", "/sda/1/AUTH_a/c", {
        "X-Timestamp": client.ts(), "X-Container-Read": ".r:*,.rlistings",
        "X-Container-Write": "AUTH_b:user", "X-Container-Meta-Size": "big"})
    assert resp.status_int == 204
    head = client("HEAD", "/sda/1/AUTH_a/c")
    assert head.headers["X-Container-Meta-Color"] == "red"
    assert head.headers["X-Container-Meta-Size"] == "big"
    assert head.headers["X-Container-Read"] == ".r:*,.rlistings"
    assert head.headers["X-Container-Write"] == "AUTH_b:user"
    client("POST", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts(), "X-Container-Meta-Color": ""})
    assert "X-Container-Meta-Color" not in client("HEAD", "/sda/1/AUTH_a/c").headers
    # an older POST does not win over a newer value
    old = Timestamp(1_600_000_000).normal
    client("POST", "/sda/1/AUTH_a/c", {"X-Timestamp": old, "X-Container-Meta-Size": "tiny"})
    assert client("HEAD", "/sda/1/AUTH_a/c").headers["X-Container-Meta-Size"] == "big"
    missing = client("POST", "/sda/1/AUTH_a/x", {"X-Timestamp": client.ts()})
    assert missing.status_int == 404


def test_metadata_limits_change_nothing(client):
    client.put_container()
    too_long = {"X-Timestamp": client.ts(), "X-Container-Meta-" + "k" * 129: "v"}
    assert client("POST", "/sda/1/AUTH_a/c", too_long).status_int == 400
    value = {"X-Timestamp": client.ts(), "X-Container-Meta-K": "v" * 257}
    assert client("POST", "/sda/1/AUTH_a/c", value).status_int == 400
    # 90 items are fine; one more, in a later request, breaks the merged limit
    many = {f"X-Container-Meta-K{i}": "v" for i in range(90)}
    assert client("POST", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts(), **many}).status_int == 204
    extra = {"X-Timestamp": client.ts(), "X-Container-Meta-Extra": "v"}
    assert client("POST", "/sda/1/AUTH_a/c", extra).status_int == 400
    head = client("HEAD", "/sda/1/AUTH_a/c")
    assert "X-Container-Meta-Extra" not in head.headers
    assert sum(1 for h in head.headers if h.startswith("X-Container-Meta-")) == 90
    new_bad = {"X-Timestamp": client.ts(), "X-Container-Meta-" + "k" * 129: "v"}
    assert client("PUT", "/sda/1/AUTH_a/new", new_bad).status_int == 400
    assert client("HEAD", "/sda/1/AUTH_a/new").status_int == 404


def test_delete_rules(client):
    assert client("DELETE", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts()}).status_int == 404
    client.put_container()
    client.put_object("o")
    assert client("DELETE", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts()}).status_int == 409
    client("DELETE", "/sda/1/AUTH_a/c/o", {"X-Timestamp": client.ts()})
    old = {"X-Timestamp": Timestamp(1_600_000_000).normal}
    assert client("DELETE", "/sda/1/AUTH_a/c", old).status_int == 409
    assert client("DELETE", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts()}).status_int == 204
    head = client("HEAD", "/sda/1/AUTH_a/c")
    assert head.status_int == 404
    assert "X-Backend-Delete-Timestamp" in head.headers
    assert client("GET", "/sda/1/AUTH_a/c").status_int == 404
    assert client("DELETE", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts()}).status_int == 404
    # re-creating a deleted container is a create
    assert client.put_container().status_int == 201
    # a PUT older than the deletion is refused
    client("DELETE", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts()})
    stale = {"X-Timestamp": Timestamp(1_600_000_001).normal}
    assert client("PUT", "/sda/1/AUTH_a/c", stale).status_int == 409


def test_bad_paths_and_devices(client):
    ts = {"X-Timestamp": client.ts()}
    assert client("PUT", "/sdb/1/AUTH_a/c", ts).status_int == 507
    assert client("HEAD", "/sdb/1/AUTH_a/c").status_int == 507
    assert client("PUT", "/sda/x/AUTH_a/c", ts).status_int == 400
    assert client("PUT", "/sda/1/AUTH_a", ts).status_int == 400
    assert client("PUT", "/sda/1/AUTH_a/" + "c" * 257, ts).status_int == 400
    assert client("GET", "/sda/1/AUTH_a/c/o").status_int == 400
    assert client("PUT", "/sda/1/AUTH_a/c", {}).status_int == 400
    assert client("COPY", "/sda/1/AUTH_a/c").status_int == 405
    resp = client("PUT", "/sda/1/AUTH_a/c", {**ts, "X-Account-Host": "127.0.0.1:1"})
    assert resp.status_int == 400
    assert client("HEAD", "/sda/1/AUTH_a/c").status_int == 404


@pytest.mark.parametrize("part", ["\u0661\u0662", " 12", "1_0", "012", "\u00b2"])
def test_partitions_are_ascii_digits_only(client, part):
    """In the path and in X-Account-Partition (Python's int() would take all of these; in a
    header, surrounding blanks are HTTP's own and not part of the value)."""
    ts = {"X-Timestamp": client.ts()}
    assert client("PUT", f"/sda/{quote(part)}/AUTH_a/c", ts).status_int == 400
    cases = [("127.0.0.1:\u0661", "1")] + ([] if part.strip() != part else
                                            [("127.0.0.1:6202", part)])
    for host, partition in cases:
        resp = client("PUT", "/sda/1/AUTH_a/c", {**ts, "X-Account-Host": host,
                                                 "X-Account-Device": "sda",
                                                 "X-Account-Partition": partition})
        assert resp.status_int == 400, (host, partition)
    assert client("HEAD", "/sda/1/AUTH_a/c").status_int == 404


def test_unexpected_error_is_short_500(client, tmp_path):
    client.put_container()
    resp = client("HEAD", "/sda/1/AUTH_a/c")
    assert resp.status_int == 204
    # corrupt the database file in place: the server answers 500 without a traceback
    db_files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "devices") for f in fs
                if f.endswith(".db")]
    client.app.connections.close_all()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db_files[0] + suffix):
            os.unlink(db_files[0] + suffix)
    with open(db_files[0], "wb") as handle:
        handle.write(b"garbage" * 1000)
    resp = client("HEAD", "/sda/1/AUTH_a/c")
    assert resp.status_int == 500
    assert b"Traceback" not in resp.body


def test_config_errors(tmp_path):
    conf_path, _ = write_confs(tmp_path, "container", "mount_check = maybe\n")
    with pytest.raises(ConfigError, match="mount_check"):
        make_app(conf_path)
    conf_path, _ = write_confs(tmp_path, "container", "colour = blue\n")
    with pytest.raises(ConfigError, match="colour"):
        make_app(conf_path)


def test_sample_config_is_valid(tmp_path):
    sample = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "container-server.conf")
    text = open(sample).read()
    assert "app = storage.databases.container_server:make_app" in text
    assert "bind_port = 6201" in text
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "brume.conf").write_text("[cluster]\nhash_path_prefix = p\nhash_path_suffix = s\n")
    path = tmp_path / "c.conf"
    path.write_text(text.replace("/etc/brume", str(conf_dir)))
    assert make_app(str(path)).devices == "/srv/node"


def test_put_older_than_delete_changes_nothing(client):
    client.put_container()
    client("DELETE", "/sda/1/AUTH_a/c", {"X-Timestamp": client.ts()})
    stale = {"X-Timestamp": Timestamp(1_600_000_002).normal, "X-Container-Meta-Late": "x"}
    assert client("PUT", "/sda/1/AUTH_a/c", stale).status_int == 409
    assert client.put_container().status_int == 201
    assert "X-Container-Meta-Late" not in client("HEAD", "/sda/1/AUTH_a/c").headers


def test_metadata_limit_counts_utf8_bytes(client):
    client.put_container()
    # 128 two-byte characters = 256 bytes: exactly at the value limit
    value = ("\u00e9" * 128).encode("utf-8").decode("latin-1")  # as WSGI carries it
    ok = {"X-Timestamp": client.ts(), "X-Container-Meta-K": value}
    assert client("POST", "/sda/1/AUTH_a/c", ok).status_int == 204
    over = {"X-Timestamp": client.ts(),
            "X-Container-Meta-K": ("\u00e9" * 129).encode("utf-8").decode("latin-1")}
    assert client("POST", "/sda/1/AUTH_a/c", over).status_int == 400
    assert client("HEAD", "/sda/1/AUTH_a/c").headers["X-Container-Meta-K"] == value



def test_numbers_a_row_cannot_hold_are_400(client):
    """Past SQLite's 64-bit INTEGER (or past int()'s digit limit) is the caller's mistake."""
    client.put_container()
    for size in (str(2**63), str(10**30), "9" * 4500):
        resp = client("PUT", "/sda/1/AUTH_a/c/o", {
            "X-Timestamp": client.ts(), "X-Size": size, "X-Content-Type": "text/plain",
            "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"})
        assert resp.status_int == 400, size[:30]
    assert client.put_object("o", 2**63 - 1).status_int == 201
