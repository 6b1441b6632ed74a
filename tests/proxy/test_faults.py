"""Failures of storage nodes: handoffs on PUT, failover and mid-stream resume on GET.

Object servers are SIGKILLed and restarted; every test brings its servers back.
"""
from __future__ import annotations

import hashlib
import json

import pytest
from webob import Request

from proxy.get_resume import StreamCut


@pytest.fixture(scope="module")
def cont(tester):
    assert tester("PUT", "faults").status_int in (201, 202)
    return "faults"


@pytest.fixture
def restore(storage_cluster, proxy_app):
    killed = []
    yield killed
    storage_cluster.restart_many(sorted(set(killed)), "object")
    proxy_app.app.client.limiter._errors.clear()


def primaries(proxy_app, storage_cluster, obj):
    _part, nodes = proxy_app.app.object_ring.get_nodes("AUTH_test", "faults", obj)
    return [storage_cluster.node_index_of(node) for node in nodes]


def test_one_node_down_put_and_get_succeed(tester, cont, storage_cluster, proxy_app, restore):
    victim = primaries(proxy_app, storage_cluster, "survivor")[0]
    storage_cluster.kill(victim)
    restore.append(victim)
    body = b"s" * 200000
    assert tester("PUT", f"{cont}/survivor", body).status_int == 201
    assert tester("GET", f"{cont}/survivor").body == body
    assert tester("HEAD", f"{cont}/survivor").status_int == 200
    assert tester("DELETE", f"{cont}/survivor").status_int == 204


def test_quorum_lost_put_is_503_and_logs_why(tester, cont, storage_cluster, proxy_app,
                                             restore, caplog):
    order = primaries(proxy_app, storage_cluster, "doomed")
    others = [i for i in range(len(storage_cluster.nodes)) if i != order[0]]
    for index in others:
        storage_cluster.kill(index)
        restore.append(index)
    caplog.set_level("WARNING", logger="brume.proxy")
    assert tester("PUT", f"{cont}/doomed", b"d" * 100).status_int == 503
    assert tester("PUT", f"{cont}/doomed-big", b"d" * 300000).status_int == 503
    failed = [r.getMessage() for r in caplog.records if " failed " in r.getMessage()]
    killed_ports = {str(storage_cluster.nodes[i]["ports"]["object"]) for i in others}
    for obj, stage in (("doomed", "the request"), ("doomed-big", "before the body")):
        lines = [m for m in failed if f"/{cont}/{obj}:" in m]
        assert lines and all(f"failed {stage}: " in m for m in lines), failed
        assert {m.split(" node ")[1].split("/")[0].rsplit(":", 1)[1] for m in lines} \
            <= killed_ports


def start_get(proxy_app, token, path):
    req = Request.blank(path, headers={"X-Auth-Token": token})
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = dict(headers)

    body = proxy_app(req.environ, start_response)
    return captured, body


def test_get_resumes_from_another_replica(tester, cont, storage_cluster, proxy_app, restore,
                                          caplog):
    caplog.set_level("INFO", logger="brume.proxy")
    body = hashlib.sha256(b"seed").digest() * (24 * 1024 * 1024 // 32)
    assert tester("PUT", f"{cont}/resume-me", body).status_int == 201
    captured, app_iter = start_get(proxy_app, tester.token, f"/v1/AUTH_test/{cont}/resume-me")
    assert captured["status"].startswith("200")
    iterator = iter(app_iter)
    received = [next(iterator)]
    serving = primaries(proxy_app, storage_cluster, "resume-me")[0]
    storage_cluster.kill(serving)
    restore.append(serving)
    received.extend(iterator)
    app_iter.close()
    data = b"".join(received)
    assert len(data) == len(body)
    assert hashlib.md5(data).hexdigest() == hashlib.md5(body).hexdigest()
    assert "resumed at byte" in caplog.text


def test_get_is_cut_when_no_replica_can_continue(tester, cont, storage_cluster, proxy_app,
                                                 restore):
    body = b"c" * (24 * 1024 * 1024)
    assert tester("PUT", f"{cont}/cut-me", body).status_int == 201
    captured, app_iter = start_get(proxy_app, tester.token, f"/v1/AUTH_test/{cont}/cut-me")
    iterator = iter(app_iter)
    got = len(next(iterator))
    for index in range(len(storage_cluster.nodes)):
        storage_cluster.kill(index)
        restore.append(index)
    with pytest.raises(StreamCut):
        for chunk in iterator:
            got += len(chunk)
    app_iter.close()
    assert got < len(body)


def test_stale_replica_behind_a_tombstone_is_not_served(tester, cont, storage_cluster,
                                                        proxy_app, restore):
    assert tester("PUT", f"{cont}/stale", b"old data").status_int == 201
    stale = primaries(proxy_app, storage_cluster, "stale")[2]
    storage_cluster.kill(stale)
    assert tester("DELETE", f"{cont}/stale").status_int == 204
    storage_cluster.restart(stale)
    proxy_app.app.client.limiter._errors.clear()
    assert tester("GET", f"{cont}/stale").status_int == 404
    assert tester("HEAD", f"{cont}/stale").status_int == 404


def test_hung_node_times_out_and_is_replaced(tester, cont, storage_cluster, proxy_app, caplog):
    import signal

    caplog.set_level("INFO", logger="brume.proxy")
    body = b"h" * (24 * 1024 * 1024)
    assert tester("PUT", f"{cont}/hang-read", body).status_int == 201
    order = primaries(proxy_app, storage_cluster, "hang-read")
    captured, app_iter = start_get(proxy_app, tester.token, f"/v1/AUTH_test/{cont}/hang-read")
    iterator = iter(app_iter)
    received = [next(iterator)]
    serving = storage_cluster.procs[(order[0], "object")]
    serving.send_signal(signal.SIGSTOP)
    try:
        received.extend(iterator)
        app_iter.close()
        assert b"".join(received) == body
        assert "resumed at byte" in caplog.text and "timed out" in caplog.text
        victim = primaries(proxy_app, storage_cluster, "hang-write")[0]
        if victim != order[0]:
            storage_cluster.procs[(victim, "object")].send_signal(signal.SIGSTOP)
        try:
            assert tester("PUT", f"{cont}/hang-write", b"w" * 1000).status_int == 201
            assert tester("PUT", f"{cont}/hang-write-big", b"w" * 300000).status_int == 201
            assert tester("GET", f"{cont}/hang-write").body == b"w" * 1000
        finally:
            if victim != order[0]:
                storage_cluster.procs[(victim, "object")].send_signal(signal.SIGCONT)
    finally:
        serving.send_signal(signal.SIGCONT)
        proxy_app.app.client.limiter._errors.clear()


def test_x_newest_picks_the_newest_replica(tester, cont, storage_cluster, proxy_app, restore):
    assert tester("PUT", f"{cont}/versions", b"version one").status_int == 201
    first = primaries(proxy_app, storage_cluster, "versions")[0]
    storage_cluster.kill(first)
    assert tester("PUT", f"{cont}/versions", b"version two").status_int == 201
    storage_cluster.restart(first)
    proxy_app.app.client.limiter._errors.clear()
    assert tester("GET", f"{cont}/versions").body == b"version one"  # the stale first primary
    newest = {"X-Newest": "true"}
    assert tester("GET", f"{cont}/versions", headers=newest).body == b"version two"
    head = tester("HEAD", f"{cont}/versions", headers=newest)
    assert head.headers["Content-Length"] == str(len(b"version two"))
    listing = tester("GET", cont, headers=newest)
    assert listing.status_int == 200 and b"versions" in listing.body


def container_rows(proxy_app, container):
    """The object names each container replica lists, asked directly."""
    ring = proxy_app.app.container_ring
    part, nodes = ring.get_nodes("AUTH_test", container)
    rows = []
    for node in nodes:
        response = proxy_app.app.client.request(node, part, "GET", f"/AUTH_test/{container}", {},
                                            query="format=json")
        rows.append(sorted(entry["name"] for entry in json.loads(
            response.read_all(1 << 20) or b"[]")))
    return rows


def test_every_container_replica_learns_of_a_write_with_a_failed_slot(
        tester, cont, storage_cluster, proxy_app, restore):
    order = primaries(proxy_app, storage_cluster, "one-slot-short")
    handoff = [i for i in range(len(storage_cluster.nodes)) if i not in order]
    for index in [order[0], *handoff]:
        storage_cluster.kill(index)
        restore.append(index)
    assert tester("PUT", f"{cont}/one-slot-short", b"x" * 10).status_int == 201
    assert tester("PUT", f"{cont}/one-slot-short-big", b"y" * 300000).status_int == 201
    for rows in container_rows(proxy_app, cont):
        assert "one-slot-short" in rows and "one-slot-short-big" in rows
    assert tester("DELETE", f"{cont}/one-slot-short").status_int == 204
    for rows in container_rows(proxy_app, cont):
        assert "one-slot-short" not in rows
