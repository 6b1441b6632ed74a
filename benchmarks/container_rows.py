"""Container server figures: object-row updates per second and listing latency.

    python benchmarks/container_rows.py [--rows 4000] [--concurrency 1,16]

Starts a real container server (`python -m common.wsgi_server`) on a free loopback port
over a temp devices dir, sends object-row PUTs the way object servers do (one request per
row, each acknowledged only once durable) from N client threads, then times full and
delimited listings. Prints the figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.storage_node import signed, storage_server


def request(port, method, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, headers=signed(method, path, headers))
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def put_rows(port: int, rows: int, concurrency: int, tag: str) -> float:
    def worker(index: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(rows // concurrency):
            path = f"/sda/0/AUTH_bench/c/{tag}-{index:02d}/obj-{i:06d}"
            conn.request("PUT", path, headers=signed("PUT", path, {
                "X-Timestamp": f"{time.time():.5f}", "X-Size": "4096",
                "X-Content-Type": "application/octet-stream",
                "X-Etag": "d41d8cd98f00b204e9800998ecf8427e", "Content-Length": "0"}))
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise SystemExit(f"row PUT answered {resp.status}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (rows // concurrency) * concurrency / (time.perf_counter() - started)


def timed(port, path, repeat=10, method="GET") -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        status, _ = request(port, method, path)
        assert status in (200, 204)
    return (time.perf_counter() - started) / repeat * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        with storage_server(workdir, "container") as port:
            request(port, "PUT", "/sda/0/AUTH_bench/c", {"X-Timestamp": f"{time.time():.5f}"})
            for level in (int(c) for c in args.concurrency.split(",")):
                rate = put_rows(port, args.rows, level, f"c{level}")
                print(f"object-row PUTs, concurrency {level:3d}: {rate:8.0f} rows/s")
            print(f"JSON listing, 10000 rows:           "
                  f"{timed(port, '/sda/0/AUTH_bench/c?format=json'):8.1f} ms")
            print(f"plain listing with delimiter '/':   "
                  f"{timed(port, '/sda/0/AUTH_bench/c?delimiter=/'):8.1f} ms")
            print(f"HEAD:                               "
                  f"{timed(port, '/sda/0/AUTH_bench/c', 200, 'HEAD'):8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
