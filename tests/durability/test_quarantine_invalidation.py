"""Every way a replica is found rotten quarantines it and invalidates its suffix, so the hash a
peer gets from `REPLICATE` changes at once and the peer's next pass pushes a good copy back.

Each test first has the partition's suffix hashes computed and cached (`hashes.msgpack`), as a
peer's earlier pass would have, then damages the replica, finds the damage one way (whole
GET, ranged GET, HEAD, the auditor, the replicator's own push), and asks the object server for
its hashes the way a peer does. In process, on real files (the cluster tests are in
test_bitrot_healing.py).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading

import msgpack
import pytest

from common.green import eventlet
from common.wsgi_server import healthcheck_middleware
from storage.daemons.context import COMMON_OPTIONS, NodeContext
from storage.daemons.object_auditor import AuditFailure, ObjectAuditor, audit_file
from storage.objects.metadata import XATTR_NAME, read_layout
from storage.replication.object_protocol import REPLICATION_HEADER
from storage.replication.object_replicator import ObjectReplicator
from tests.storage.conftest import ObjectEnv, write_object_conf

BODY = bytes(range(256)) * 800  # 204800 bytes: four 64 KiB blocks, the last one short
PART = "1"


def make_env(tmp_path, name="node") -> ObjectEnv:
    from storage.objects.server import make_app

    base = tmp_path / name
    base.mkdir()
    conf_dir, devices, conf_path = write_object_conf(base)
    return ObjectEnv(make_app(conf_path), devices, conf_dir, conf_path)


@pytest.fixture
def env(tmp_path) -> ObjectEnv:
    return make_env(tmp_path)


def peer_view(env) -> dict:
    """The partition's suffix hashes as a peer's replicator gets them."""
    resp = env.request(f"/sda/{PART}", "REPLICATE", headers={REPLICATION_HEADER: "true"})
    assert resp.status_int == 200, resp.body
    return msgpack.unpackb(resp.body, raw=False)


def stored(env, obj="o", body=BODY, headers=None) -> str:
    """PUT an object, let a peer see (and cache) the hashes; returns its .data path."""
    assert env.put(f"/sda/{PART}/a/c/{obj}", body=body, headers=headers).status_int == 201
    hash_dir = env.app.diskfiles.diskfile("sda", PART, "a", "c", obj).hash_dir
    (name,) = os.listdir(hash_dir)
    path = os.path.join(hash_dir, name)
    view = peer_view(env)
    assert os.path.basename(os.path.dirname(path))[-3:] in view
    assert os.path.exists(os.path.join(env.devices, "sda", "objects", PART, "hashes.msgpack"))
    return path


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def suffix_of(path: str) -> str:
    return os.path.basename(os.path.dirname(path))[-3:]


def quarantined(env) -> list[str]:
    qdir = os.path.join(env.devices, "sda", "quarantined", "objects")
    return os.listdir(qdir) if os.path.isdir(qdir) else []


def assert_quarantined_and_invalidated(env, path: str) -> None:
    assert not os.path.exists(path)
    assert quarantined(env) == [os.path.basename(os.path.dirname(path))]
    assert suffix_of(path) not in peer_view(env)  # not the stale cached hash


def test_whole_get_of_a_rotten_replica(env):
    path = stored(env)
    flip(path, 70_000)
    with pytest.raises(Exception, match="fails its CRC"):
        env.request(f"/sda/{PART}/a/c/o").body  # noqa: B018 - consuming the body is the read
    assert_quarantined_and_invalidated(env, path)


def test_ranged_get_touching_the_bad_block(env):
    path = stored(env)
    flip(path, 140_000)  # block 2
    # A range in blocks 0-1 does not touch it: served, nothing quarantined.
    resp = env.request(f"/sda/{PART}/a/c/o", headers={"Range": "bytes=100-131071"})
    assert resp.status_int == 206 and resp.body == BODY[100:131072]
    assert quarantined(env) == [] and suffix_of(path) in peer_view(env)
    with pytest.raises(Exception, match="fails its CRC"):
        env.request(f"/sda/{PART}/a/c/o", headers={"Range": "bytes=131000-131100"}).body  # noqa: B018
    assert_quarantined_and_invalidated(env, path)


def test_get_and_head_with_corrupt_metadata(env):
    path = stored(env)
    os.setxattr(path, XATTR_NAME, b"\xc1 not msgpack")
    assert env.request(f"/sda/{PART}/a/c/o", "HEAD").status_int == 404
    assert_quarantined_and_invalidated(env, path)


def test_get_with_a_corrupt_metadata_trailer(env):
    big = {f"X-Object-Meta-K{i:02d}": "v" * 40 for i in range(60)}  # > 2 KiB: a trailer
    path = stored(env, headers=big)
    layout = read_layout(path)
    assert layout.trailer_length
    flip(path, layout.body_length + layout.crc_length + 10)
    assert env.request(f"/sda/{PART}/a/c/o").status_int == 404
    assert_quarantined_and_invalidated(env, path)


def test_get_with_metadata_of_another_write(env):
    """Metadata that decodes but names another timestamp than its file is corrupt too."""
    path = stored(env)
    layout = read_layout(path)
    wrong = dict(layout.metadata, **{"X-Timestamp": "0000000001.00000"})
    os.setxattr(path, XATTR_NAME, msgpack.packb(wrong, use_bin_type=True))
    assert env.request(f"/sda/{PART}/a/c/o").status_int == 404
    assert_quarantined_and_invalidated(env, path)


def node_context(env: ObjectEnv) -> NodeContext:
    """The daemons' view of env's node (its devices, and its conf dir for the secret)."""
    conf = {opt.name: opt.default for opt in COMMON_OPTIONS}
    conf["devices"] = env.devices
    conf["conf_dir"] = str(env.conf_dir)
    return NodeContext(conf, logging.getLogger("test"))


def daemon_conf(cls) -> dict:
    return {opt.name: opt.default for opt in cls.OPTIONS}


@pytest.mark.parametrize("where", ["body", "crc table"])
def test_auditor_pass_without_any_read(env, where):
    path = stored(env)
    good = stored(env, obj="other")
    layout = read_layout(path)
    flip(path, 1000 if where == "body" else layout.body_length + 5)
    with pytest.raises(AuditFailure, match="CRC"):
        audit_file(path)
    audit_file(good)
    conf = dict(daemon_conf(ObjectAuditor), files_per_second=0.0, bytes_per_second=0.0)
    counts = ObjectAuditor(node_context(env), conf).run_once()
    assert counts["quarantined"] == 1 and counts["failures"] == 0
    assert_quarantined_and_invalidated(env, path)
    assert os.path.exists(good)


@pytest.fixture
def receiver(tmp_path):
    """A second object server behind a real WSGI server on loopback (the peer)."""
    peer = make_env(tmp_path, "peer")
    sock = eventlet.listen(("127.0.0.1", 0))
    thread = threading.Thread(
        target=eventlet.wsgi.server,
        kwargs={"sock": sock, "site": healthcheck_middleware(peer.app),
                "log_output": False, "debug": False},
        daemon=True,
    )
    thread.start()
    return peer, {"ip": "127.0.0.1", "port": sock.getsockname()[1], "device": "sda"}


def peer_data_files(peer) -> list[str]:
    return [f for f in peer.files() if f.startswith("objects/") and f.endswith(".data")]


@pytest.mark.parametrize("where", ["body", "last block", "metadata"])
def test_replicator_push_of_a_rotten_copy(env, receiver, where):
    """The pushing side checks what it sends: its rotten copy is quarantined, the peer keeps
    nothing of it, and a good copy on the same pass still goes."""
    peer, peer_node = receiver
    path = stored(env)
    good = stored(env, obj="fine", body=b"fine bytes" * 5000)
    if where == "metadata":
        os.setxattr(path, XATTR_NAME, b"\xc1 garbage")
    else:
        flip(path, 10 if where == "body" else len(BODY) - 3)
    replicator = ObjectReplicator(node_context(env), daemon_conf(ObjectReplicator))
    replicator.counts = {"quarantined": 0, "failures": 0}
    replicator.sync_to_peer("sda", int(PART), peer_node, peer_view(env))
    assert replicator.counts["quarantined"] == 1
    assert_quarantined_and_invalidated(env, path)
    pushed = peer_data_files(peer)
    assert [os.path.basename(os.path.dirname(f)) for f in pushed] == [
        os.path.basename(os.path.dirname(good))]
    data = peer.request(f"/sda/{PART}/a/c/fine").body
    assert hashlib.md5(data).hexdigest() == hashlib.md5(b"fine bytes" * 5000).hexdigest()
    assert not [f for f in peer.files() if f.startswith("tmp/")]
