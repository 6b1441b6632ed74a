"""`GET /recon/cluster` on the proxy: the storage cluster's health (every storage server's
`/recon/all`, each ring's devices and balance) for a reseller admin only, over the package's
real 4-node cluster; and the balance arithmetic."""
from __future__ import annotations

import os

from proxy.cluster_health import ring_summary
from ring.balance import device_balances


def test_an_admin_sees_every_storage_server_and_ring(admin, storage_cluster):
    answer = admin.call("GET", "/recon/cluster")
    assert answer.status_int == 200, answer.body
    body = answer.json
    ring_files = {name.removesuffix(".ring.gz") for name in os.listdir(storage_cluster.conf_dir)
                  if name.endswith(".ring.gz")}
    assert set(body["rings"]) == ring_files >= {"account", "container", "object"}
    servers = {node["server"] for node in body["nodes"]}
    assert servers == {dev["server"] for dev in body["rings"]["object"]["devices"]}
    assert len(servers) >= 4
    for node in body["nodes"]:
        assert node["error"] == "" and isinstance(node["recon"], dict), node
        assert "diskusage" in node["recon"] and "async" in node["recon"]
        for name, ring in body["rings"].items():  # every node has the rings the proxy has
            assert node["recon"]["ringmd5"][f"{name}.ring.gz"] == ring["md5"], (node, name)
    objects = body["rings"]["object"]
    assert len(objects["md5"]) == 32 and objects["balance"] >= 0
    assert sum(dev["partitions"] for dev in objects["devices"]) > 0
    assert admin.call("HEAD", "/recon/cluster").status_int == 200


def test_others_are_refused(tester, anonymous):
    assert tester.call("GET", "/recon/cluster").status_int == 403
    assert anonymous.call("GET", "/recon/cluster").status_int == 401
    assert anonymous.call("GET", "/recon/cluster", token="forged").status_int == 401


def test_only_get_and_head(admin):
    assert admin.call("POST", "/recon/cluster").status_int == 405


def test_a_down_server_is_reported_not_fatal(admin, proxy_app):
    app = proxy_app
    while hasattr(app, "app"):
        app = app.app
    ring = app.object_ring
    devs = ring.devs
    fake = dict(next(d for d in devs if d), ip="127.0.0.1", port=1, id=len(devs))
    original = type(ring).devs
    try:
        type(ring).devs = property(lambda self: [*original.fget(self), fake])
        body = admin.call("GET", "/recon/cluster").json
    finally:
        type(ring).devs = original
    down = [n for n in body["nodes"] if n["server"] == "127.0.0.1:1"]
    assert down and down[0]["recon"] is None and down[0]["error"]


def test_ring_balance():
    devs = [{"id": 0, "ip": "a", "port": 1, "device": "d0", "weight": 100.0},
            {"id": 1, "ip": "b", "port": 1, "device": "d1", "weight": 100.0},
            None,
            {"id": 3, "ip": "c", "port": 1, "device": "d3", "weight": 0.0}]
    weights = {0: 100.0, 1: 100.0, 3: 0.0}

    def summary(assigned):
        total = sum(assigned.values())
        return ring_summary(devs, assigned, device_balances(weights, assigned, total), "m")

    even = summary({0: 50, 1: 50})
    assert even["balance"] == 0.0 and [d["partitions"] for d in even["devices"]] == [50, 50, 0]
    skewed = summary({0: 60, 1: 40})
    assert skewed["balance"] == 20.0
    assert [d["balance"] for d in skewed["devices"]] == [20.0, -20.0, 0.0]
    drained = summary({0: 50, 1: 40, 3: 10})  # a zero-weight device still holding: as ring-builder
    assert drained["devices"][2]["balance"] == 999.99 and drained["balance"] == 999.99
    assert ring_summary([], {}, {}, "m")["balance"] == 0.0
