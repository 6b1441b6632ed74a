"""Benchmark of one object server process on loopback (no proxy, no replication).

    python benchmarks/object_server.py [--size 4096] [--count 4000] [--concurrency 16]

Starts `python -m common.wsgi_server` with a temp devices dir, then runs PUT, GET, HEAD and
DELETE waves with N concurrent keep-alive clients (green threads in this process) and prints
ops/s and p50/p99 latency per verb. Every PUT is fsynced (file + directory) as in production.
"""
from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.storage_node import signed, storage_server  # noqa: E402
from common.green import eventlet  # noqa: E402
from common.timestamp import Timestamp  # noqa: E402

eventlet.monkey_patch()


def run_wave(port, method, count, concurrency, body, expect):
    latencies = []
    queue = eventlet.queue.LightQueue()
    for i in range(count):
        queue.put(i)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            try:
                i = queue.get_nowait()
            except eventlet.queue.Empty:
                break
            headers = {"X-Timestamp": Timestamp.now().normal}
            payload = None
            if method == "PUT":
                headers["Content-Type"] = "application/octet-stream"
                payload = body
            started = time.perf_counter()
            path = f"/sda/{i % 1024}/AUTH_bench/c/obj{i}"
            conn.request(method, path, body=payload, headers=signed(method, path, headers))
            resp = conn.getresponse()
            resp.read()
            latencies.append(time.perf_counter() - started)
            if resp.status != expect:
                raise SystemExit(f"{method} got {resp.status}")
        conn.close()

    pool = eventlet.GreenPool(concurrency)
    started = time.perf_counter()
    for _ in range(concurrency):
        pool.spawn(worker)
    pool.waitall()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    mbs = count * len(body) / elapsed / 1e6 if method in ("PUT", "GET") else 0
    print(f"{method:6} {count / elapsed:8.0f} ops/s  {mbs:7.1f} MB/s  "
          f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--disk-threads", type=int, default=8)
    args = parser.parse_args()
    body = os.urandom(args.size)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        with storage_server(tmp, "object", {"disk_threads": args.disk_threads}) as port:
            print(f"object server, {args.size} B objects, {args.count} ops, "
                  f"concurrency {args.concurrency}, disk_threads {args.disk_threads}")
            run_wave(port, "PUT", args.count, args.concurrency, body, 201)
            run_wave(port, "GET", args.count, args.concurrency, body, 200)
            run_wave(port, "HEAD", args.count, args.concurrency, body, 200)
            run_wave(port, "DELETE", args.count, args.concurrency, body, 204)
    return 0


if __name__ == "__main__":
    sys.exit(main())
