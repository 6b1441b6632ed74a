"""`GET /recon/cluster`: the storage cluster's health in one answer, for a reseller admin.

The object servers' `/recon/...` are backend endpoints (signed with the cluster secret,
`storage.recon`); this is how a client of the public API, such as the web dashboard, sees
them without that secret: the proxy, which holds it, asks every object server of the object
rings for `GET /recon/all` (its node's disks, async pendings, quarantines, daemons' last
passes, ring md5s; in parallel, a short timeout each) and answers

    {"nodes": [{"server": "ip:port", "recon": {...} | null,
                "error": "" | one line}],
     "rings": {"object": {"md5", "devices", "balance", "dispersed"}, ...},
     "time": now}

`balance` is Swift's (`ring.balance`, the figures `ring-builder` prints): the largest
difference, in percent, between the partition replicas a device holds and those its weight
asks for; 999.99 for a device without weight that still holds some. `rings` names each
storage policy's object ring as its file does (`object`, `object-1`, ...). Only a caller
whose token makes it a reseller admin (`reseller_admin_projects`) is answered (401
anonymous, 403 others). `ring_summary` is logic without IO.
"""
from __future__ import annotations

import json
import time

from common.green import eventlet
from common.http_client import HTTPClientError
from proxy.environ_keys import IDENTITY_KEY
from proxy.responses import RawResponse, error
from ring.balance import max_balance
from storage import backend_client

PATH = "/recon/cluster"
TIMEOUT = 3.0


def ring_summary(devs: list, assigned: dict[int, int], balances: dict[int, float],
                 md5: str) -> dict:
    """A ring's devices, what each holds and its balance (`ring.balance`: percent, 0 =
    perfect), and the ring's own balance."""
    devices = [{"id": dev["id"], "server": f"{dev['ip']}:{dev['port']}",
                "device": dev["device"], "zone": dev.get("zone"), "weight": dev["weight"],
                "partitions": assigned.get(dev["id"], 0),
                "balance": round(balances.get(dev["id"], 0.0), 2)}
               for dev in devs if dev]
    return {"md5": md5, "devices": devices, "balance": round(max_balance(balances), 2)}


def rings_of(app) -> dict:
    """{ring name: Ring} of the proxy: account, container and each policy's object ring."""
    rings = {"account": app.account_ring, "container": app.container_ring}
    for index, ring in sorted(app.object_rings.items()):
        rings["object" if index == 0 else f"object-{index}"] = ring
    return rings


def _summary(ring) -> dict:
    assigned = ring.assignments_per_device()
    return ring_summary(ring.devs, assigned, ring.balances(assigned), ring.md5)


def servers_of(rings) -> list[tuple[str, int]]:
    """Every (ip, port) of the rings' devices, once each, in ring order."""
    found: dict[tuple[str, int], None] = {}
    for ring in rings:
        for dev in ring.devs:
            if dev:
                found.setdefault((dev["ip"], dev["port"]), None)
    return list(found)


def _fetch(ip: str, port: int, auth) -> tuple[dict | None, str]:
    try:
        answer = backend_client.request(ip, port, "GET", "/recon/all", auth=auth,
                                        conn_timeout=TIMEOUT, node_timeout=TIMEOUT)
    except HTTPClientError as exc:
        return None, str(exc).splitlines()[0][:200]
    if answer.status != 200:
        return None, f"answered {answer.status}"
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None, "answered no JSON"
    return (body, "") if isinstance(body, dict) else (None, "answered no JSON object")


def handle(app, environ):
    """The WSGI answer to `GET /recon/cluster` (`app`: the ProxyApp)."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return error(405, "method not allowed")
    caller = environ.get(IDENTITY_KEY)
    if caller is None:
        return error(401, "unauthorized")
    if not caller.is_reseller_admin:
        return error(403, "only a reseller admin sees the cluster's health")
    servers = servers_of(app.object_rings.values())
    pool = eventlet.GreenPool(16)
    answers = list(pool.imap(lambda key: _fetch(key[0], key[1], app.client.auth), servers))
    nodes = [{"server": f"{ip}:{port}", "recon": recon, "error": problem}
             for (ip, port), (recon, problem) in zip(servers, answers, strict=True)]
    body = {"nodes": nodes, "time": time.time(),
            "rings": {name: _summary(ring) for name, ring in rings_of(app).items()}}
    data = json.dumps(body).encode()
    return RawResponse(200, [("Content-Type", "application/json"),
                             ("Content-Length", str(len(data)))],
                       [b""] if environ["REQUEST_METHOD"] == "HEAD" else [data])
