"""The replication receivers in process: REPLICATE/SYNC on object servers, REPLICATE on DBs."""
from __future__ import annotations

import hashlib
import os
from urllib.parse import quote

import msgpack
import pytest
from webob import Request

from common.http_errors import error_middleware, render_plain
from common.timestamp import Timestamp
from storage.databases.account_db import AccountBroker
from storage.databases.broker import db_path
from storage.databases.container_db import ContainerBroker
from storage.objects.suffix_hashes import list_suffix_files
from storage.replication.db_protocol import handle_db_replication
from storage.replication.object_protocol import (
    BATCH_OP,
    MAX_BATCH_PARTITIONS,
    METADATA_LENGTH_HEADER,
    OP_HEADER,
    REPLICATION_HEADER,
    file_payload,
    install,
)
from storage.replication.object_replicator import files_to_push
from tests.storage.conftest import ObjectEnv, write_object_conf


def make_env(tmp_path, name):
    base = tmp_path / name
    base.mkdir()
    from storage.objects.server import make_app

    conf_dir, devices, conf_path = write_object_conf(base)
    app = make_app(conf_path)
    install(app, conf_dir)
    return ObjectEnv(app, devices, conf_dir, conf_path)


@pytest.fixture
def pair(tmp_path):
    return make_env(tmp_path, "a"), make_env(tmp_path, "b")


def replicate(env, path, op=None):
    headers = {REPLICATION_HEADER: "true"}
    if op:
        headers[OP_HEADER] = op
    resp = env.request(path, "REPLICATE", headers=headers)
    assert resp.status_int == 200, resp.body
    return msgpack.unpackb(resp.body, raw=False)


def push_all(src, dst, part="1"):
    """What the replicator does for one partition, through the apps in process."""
    local = replicate(src, f"/sda/{part}")
    remote = replicate(dst, f"/sda/{part}")
    suffixes = sorted(s for s, h in local.items() if remote.get(s) != h)
    if not suffixes:
        return 0
    listing = replicate(dst, f"/sda/{part}/{'-'.join(suffixes)}", op="list")
    pdir = os.path.join(src.devices, "sda", "objects", part)
    pushed = 0
    for suffix in suffixes:
        for obj_hash, names in list_suffix_files(pdir, suffix, 1e9).items():
            for name in files_to_push(names, listing[suffix].get(obj_hash, [])):
                path = os.path.join(pdir, suffix, obj_hash, name)
                packed, length = file_payload(path)
                with open(path, "rb") as handle:
                    body = packed + handle.read(length)
                resp = dst.request(f"/sda/{part}/{obj_hash}/{name}", "SYNC", body=body,
                                   headers={REPLICATION_HEADER: "true",
                                            METADATA_LENGTH_HEADER: str(len(packed))})
                assert resp.status_int in (200, 201), resp.body
                pushed += 1
    replicate(dst, f"/sda/{part}/{'-'.join(suffixes)}")
    return pushed


def test_push_makes_replicas_agree(pair):
    a, b = pair
    assert a.put("/sda/1/acc/c/o1", body=b"one").status_int == 201
    assert a.put("/sda/1/acc/c/o2", body=b"two" * 1000).status_int == 201
    assert b.put("/sda/1/acc/c/o3", body=b"three").status_int == 201
    assert push_all(a, b) == 2
    assert push_all(b, a) == 1
    assert replicate(a, "/sda/1") == replicate(b, "/sda/1")
    assert b.request("/sda/1/acc/c/o2").body == b"two" * 1000
    assert push_all(a, b) == 0


def test_batch_replicate_answers_what_each_partition_answers_alone(pair):
    a, _ = pair
    for part in ("1", "7", "300"):
        for index in range(3):
            assert a.put(f"/sda/{part}/acc/c/o{index}", body=b"x" * index).status_int == 201
    partitions = ["1", "7", "300", "42"]  # 42: not on this device
    batch = replicate(a, f"/sda/{','.join(partitions)}", op=BATCH_OP)
    assert batch == {p: replicate(a, f"/sda/{p}") for p in partitions}
    assert batch["1"] and batch["42"] == {}


@pytest.mark.parametrize("path,status", [
    ("/sda/1,x", 400),
    ("/sda/1,012", 400),
    ("/sda/1,,2", 400),
    ("/sda/1/abc", 400),
    ("/sda", 400),
    ("/../1", 400),
    ("/sda/" + ",".join(map(str, range(MAX_BATCH_PARTITIONS + 1))), 400),
    ("/nodev/1,2", 507),
])
def test_bad_batch_requests(pair, path, status):
    a, _ = pair
    resp = a.request(path, "REPLICATE", headers={REPLICATION_HEADER: "true",
                                                 OP_HEADER: BATCH_OP})
    assert resp.status_int == status


def test_newer_tombstone_wins_everywhere(pair):
    a, b = pair
    t1, t2 = Timestamp.now(), Timestamp(Timestamp.now().seconds + 1)
    assert a.put("/sda/1/acc/c/o", body=b"x", timestamp=t1).status_int == 201
    push_all(a, b)
    resp = b.request("/sda/1/acc/c/o", "DELETE", headers={"X-Timestamp": t2.normal})
    assert resp.status_int == 204
    push_all(b, a)
    assert a.request("/sda/1/acc/c/o").status_int == 404
    assert replicate(a, "/sda/1") == replicate(b, "/sda/1")
    # The older data is never pushed back over the tombstone.
    assert push_all(a, b) == 0


def test_sync_rejects_corrupt_body_and_keeps_nothing(pair):
    a, b = pair
    a.put("/sda/1/acc/c/o", body=b"good bytes")
    pdir = os.path.join(a.devices, "sda", "objects", "1")
    (obj_hash, names), = [
        item for s in os.listdir(pdir) if len(s) == 3
        for item in list_suffix_files(pdir, s, 1e9).items()
    ]
    packed, length = file_payload(os.path.join(pdir, obj_hash[-3:], obj_hash, names[0]))
    resp = b.request(f"/sda/1/{obj_hash}/{names[0]}", "SYNC", body=packed + b"evil bytes",
                     headers={REPLICATION_HEADER: "true",
                              METADATA_LENGTH_HEADER: str(len(packed))})
    assert resp.status_int == 422
    assert not [f for f in b.files() if "/objects/" in "/" + f and f.endswith(".data")]


@pytest.mark.parametrize("path,method,status", [
    ("/sda/x", "REPLICATE", 400),
    ("/sda/1/zzz", "REPLICATE", 400),
    ("/nodev/1", "REPLICATE", 507),
    ("/sda/1/nothex/0000000001.00000.data", "SYNC", 400),
    ("/sda/1/" + "a" * 32 + "/notafile", "SYNC", 400),
])
def test_bad_requests(pair, path, method, status):
    a, _ = pair
    resp = a.request(path, method, headers={REPLICATION_HEADER: "true",
                                            METADATA_LENGTH_HEADER: "1"}, body=b"x")
    assert resp.status_int == status
    assert not [f for f in a.files() if f.startswith("objects")]


BAD_PARTITIONS = ["\u0661\u0662", " 12", "12 ", "1_0", "+1", "-1", "012", "00", "\u00b2",
                  "1" * 11]


@pytest.mark.parametrize("part", BAD_PARTITIONS)
def test_partitions_are_ascii_digits_only(pair, part):
    """Python's int() takes '\u0661\u0662', ' 12' and '1_0'; replication must not."""
    a, _ = pair
    quoted = quote(part)
    for path, method in ((f"/sda/{quoted}", "REPLICATE"),
                         (f"/sda/{quoted}/abc", "REPLICATE"),
                         (f"/sda/{quoted}/{'a' * 32}/0000000001.00000.data", "SYNC")):
        resp = a.request(path, method, headers={REPLICATION_HEADER: "true",
                                                METADATA_LENGTH_HEADER: "1"}, body=b"x")
        assert resp.status_int == 400, (path, resp.body)
        assert resp.body == b"bad partition\n"
    assert not [f for f in a.files() if f.startswith("objects")]
    assert db_request(a.devices, f"/sda/{quoted}/{'a' * 32}", "sync", b"x").status_int == 400


def test_recon_served_by_object_server(pair):
    a, _ = pair
    resp = a.request("/recon/diskusage")
    assert resp.status_int == 200
    assert resp.json[0]["device"] == "sda"
    assert a.request("/recon/async").json == {"async_pending": 0, "devices": {"sda": 0}}
    assert a.request("/recon/nosuch").status_int == 404


# ----- databases
def db_request(devices, path, op, body=b"", headers=None, broker_class=ContainerBroker):
    hdrs = {REPLICATION_HEADER: "true", OP_HEADER: op, **(headers or {})}
    req = Request.blank(path, method="REPLICATE", headers=hdrs)
    req.body = body

    def app(environ, start_response):
        return handle_db_replication(Request(environ), devices, broker_class)(
            environ, start_response)

    return req.get_response(error_middleware(app, render_plain))


def make_container(devices, name="c"):
    digest = hashlib.md5(name.encode()).hexdigest()
    broker = ContainerBroker(db_path(devices, "sda", "containers", 3, digest))
    broker.create("acc", name, Timestamp.now())
    return digest, broker


def test_db_sync_merge_and_copy(tmp_path):
    src_dev, dst_dev = str(tmp_path / "src"), str(tmp_path / "dst")
    os.makedirs(os.path.join(src_dev, "sda"))
    os.makedirs(os.path.join(dst_dev, "sda"))
    digest, src = make_container(src_dev)
    for index in range(5):
        src.put_object(f"o{index}", Timestamp.now(), 10, "text/plain", "etag")
    info = src.get_info()
    message = msgpack.packb({"id": info["id"], "put_timestamp": info["put_timestamp"],
                             "delete_timestamp": info["delete_timestamp"],
                             "metadata": info["metadata"], "max_row": info["max_row"]})
    path = f"/sda/3/{digest}"
    assert db_request(dst_dev, path, "sync", message).status_int == 404
    snapshot = str(tmp_path / "snap.db")
    src.snapshot(snapshot)
    with open(snapshot, "rb") as handle:
        copy = handle.read()
    resp = db_request(dst_dev, path, "copy", copy, {"X-Backend-Source-Id": info["id"]})
    assert resp.status_int == 201
    dst = ContainerBroker(db_path(dst_dev, "sda", "containers", 3, digest))
    assert dst.get_info()["object_count"] == 5
    assert dst.get_info()["id"] != info["id"]
    answer = msgpack.unpackb(db_request(dst_dev, path, "sync", message).body, raw=False)
    assert answer["point"] == info["max_row"]
    # New rows flow with merge_items and move the sync point.
    src.put_object("late", Timestamp.now(), 7, "text/plain", "etag2")
    rows = src.get_items_since(answer["point"], 100)
    resp = db_request(dst_dev, path, "merge_items",
                      msgpack.packb({"source": info["id"], "items": rows}))
    assert resp.status_int == 200
    assert dst.get_info()["object_count"] == 6
    assert dst.get_info()["bytes_used"] == 57
    # A second copy does not clobber the existing replica.
    resp = db_request(dst_dev, path, "copy", copy, {"X-Backend-Source-Id": info["id"]})
    assert resp.status_int == 409


def test_db_bad_requests(tmp_path):
    devices = str(tmp_path)
    os.makedirs(os.path.join(devices, "sda"))
    digest = "a" * 32
    assert db_request(devices, "/sda/1", "sync", b"x").status_int == 400
    assert db_request(devices, f"/sda/1/{digest}", "bogus", b"x").status_int == 400
    assert db_request(devices, f"/nodev/1/{digest}", "sync", b"x").status_int == 507
    assert db_request(devices, f"/sda/1/{digest}", "sync", b"\xc1").status_int == 400
    resp = db_request(devices, f"/sda/1/{digest}", "copy", b"not a database",
                      {"X-Backend-Source-Id": "x"}, broker_class=AccountBroker)
    assert resp.status_int == 400
    assert not os.path.exists(os.path.join(devices, "sda", "accounts", "1", digest[-3:],
                                           digest, digest + ".db"))
