"""The storage nodes' own client side: container updates and the daemons' backend requests.

    python benchmarks/backend_requests.py [--count 3000] [--concurrency 1,16]

Starts a real container server and a real object server (`python -m common.wsgi_server`)
on free loopback ports, then, in this process under eventlet (as in the object server and
the daemons' runner), sends COUNT container updates with
`storage.objects.container_updates.send_update` (the object server's hot path: one per
replica per object PUT/DELETE) and COUNT `REPLICATE` requests with
`storage.backend_client.request` (what replicators send every peer for every partition), with
N concurrent green threads. Prints requests/s, p50/p99 latency and this process's CPU
microseconds per request (the client's own cost). Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from common.green import eventlet  # noqa: E402

eventlet.monkey_patch()

from benchmarks.storage_node import BACKEND_AUTH, storage_server  # noqa: E402
from storage import backend_client  # noqa: E402
from storage.objects.container_updates import ContainerNode, send_update  # noqa: E402


def run(label: str, count: int, concurrency: int, one) -> None:
    latencies: list[float] = []

    def worker(index: int) -> None:
        for i in range(index, count, concurrency):
            started = time.perf_counter()
            if not one(i):
                raise SystemExit(f"{label}: request {i} failed")
            latencies.append(time.perf_counter() - started)

    cpu, wall = time.process_time(), time.perf_counter()
    pool = eventlet.GreenPool(concurrency)
    for index in range(concurrency):
        pool.spawn(worker, index)
    pool.waitall()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"{label:<22} {concurrency:>4} {count / wall:>9.0f} {p50 * 1000:>8.2f} "
          f"{p99 * 1000:>8.2f} {cpu / count * 1e6:>10.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as cdir, tempfile.TemporaryDirectory() as odir, \
            storage_server(cdir, "container") as cport, storage_server(odir, "object") as oport:
        node = ContainerNode(f"127.0.0.1:{cport}", "sda", "0")
        made = backend_client.request("127.0.0.1", cport, "PUT", "/sda/0/AUTH_bench/c",
                                      {"X-Timestamp": f"{time.time():.5f}"}, auth=BACKEND_AUTH)
        if made.status not in (201, 202):
            raise SystemExit(f"container PUT answered {made.status}")

        def update(i: int) -> bool:
            headers = {"X-Timestamp": f"{time.time():.5f}", "X-Size": "4096",
                       "X-Content-Type": "application/octet-stream",
                       "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"}
            return send_update(node, "PUT", "AUTH_bench", "c", f"obj-{i:07d}", headers,
                               3.0, 30.0, BACKEND_AUTH)

        def replicate(i: int) -> bool:
            resp = backend_client.request("127.0.0.1", oport, "REPLICATE", f"/sda/{i % 64}",
                                          {"X-Backend-Replication": "true"},
                                          auth=BACKEND_AUTH)
            return resp.status == 200

        print(f"{'request':<22} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'client CPU us/req':>18}")
        for concurrency in levels:
            run("container update", args.count, concurrency, update)
            run("backend REPLICATE", args.count, concurrency, replicate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
