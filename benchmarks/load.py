"""Load benchmark for a running Brume object store (e.g. `brume up`).

    python benchmarks/load.py [--auth-url URL] [--user U] [--key K] [--data-dir ~/.brume]
                              [--sizes 4K:16:2000,1M:8:400,64M:2:8] [--big 1G] [--no-big]

For each SIZE:CONCURRENCY:COUNT it PUTs COUNT objects of SIZE with CONCURRENCY client threads
(one keep-alive http.client connection each), then GETs, HEADs and DELETEs them, and prints
ops/s, MB/s and p50/p99 latency per operation (with --cpu, also the CPU milliseconds each
kind of server process spent per operation, from /proc). Then it streams one BIG object
(default 1 GiB)
up and down while sampling the resident memory (VmRSS, and VmHWM at the end) of every
process listed in `<data-dir>/run/*.pid`, and prints each process's peak.
"""
from __future__ import annotations

import argparse
import glob
import http.client
import os
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.figures import UNITS, parse_size, percentile
from benchmarks.process_usage import RssSampler, cpu_seconds, memory_kib
from cli.credentials import AuthError, add_credential_flags, authenticate

CHUNK = 1 << 20


def human(size: int) -> str:
    for unit in ("G", "M", "K"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]} {unit}iB"
    return f"{size} B"


class Client:
    """One keep-alive connection to the proxy."""

    def __init__(self, storage_url: str, token: str):
        parts = urllib.parse.urlsplit(storage_url)
        self.host, self.port, self.base = parts.hostname, parts.port, parts.path
        self.token = token
        self.conn = None

    def request(self, method: str, path: str, body=None, length: int | None = None,
                sink: bool = True) -> tuple[int, int]:
        """Send one request; return (status, body bytes read)."""
        headers = {"X-Auth-Token": self.token}
        if length is not None:
            headers["Content-Length"] = str(length)
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
            try:
                self.conn.request(method, self.base + path, body=body, headers=headers)
                response = self.conn.getresponse()
                received = 0
                while True:
                    data = response.read(CHUNK)
                    if not data:
                        break
                    received += len(data)
                if response.will_close:
                    self.conn.close()
                    self.conn = None
                return response.status, received
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2 or not isinstance(body, bytes | type(None)):
                    raise
        raise RuntimeError("unreachable")


def body_stream(size: int, block: bytes):
    left = size
    while left > 0:
        piece = block[: min(len(block), left)]
        left -= len(piece)
        yield piece


def run_phase(method, storage_url, token, container, names, size, concurrency, block):
    """Run one operation over `names` split among `concurrency` threads."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    shares = [names[i::concurrency] for i in range(concurrency)]

    def worker(share):
        client = Client(storage_url, token)
        mine, bad = [], []
        for name in share:
            path = f"/{container}/{name}"
            start = time.perf_counter()
            try:
                if method == "PUT":
                    body = block[:size] if size <= len(block) else body_stream(size, block)
                    status, _ = client.request("PUT", path, body, size)
                    ok = status == 201
                elif method == "GET":
                    status, got = client.request("GET", path)
                    ok = status == 200 and got == size
                elif method == "HEAD":
                    status, _ = client.request("HEAD", path)
                    ok = status == 200
                else:
                    status, _ = client.request("DELETE", path)
                    ok = status == 204
            except (OSError, http.client.HTTPException) as exc:
                ok, status = False, repr(exc)
            mine.append(time.perf_counter() - start)
            if not ok:
                bad.append(f"{method} {name}: {status}")
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares if share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    moved = size * len(names) if method in ("PUT", "GET") else 0
    return {
        "op": method, "count": len(names), "seconds": elapsed,
        "ops": len(names) / elapsed, "mbps": moved / elapsed / 1e6,
        "p50": percentile(latencies, 0.50) * 1000, "p99": percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }


def read_pids(data_dir: str) -> dict[str, int]:
    pids = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "run", "*.pid"))):
        try:
            with open(path, encoding="ascii") as handle:
                pids[os.path.basename(path)[:-4]] = int(handle.read().strip())
        except (OSError, ValueError):
            continue
    return pids


def cpu_by_kind(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds per kind of process (name without its node number: object, proxy...)."""
    totals: dict[str, float] = {}
    for name, pid in pids.items():
        kind = name.rsplit("-", 1)[0] if name[-1].isdigit() else name
        totals[kind] = totals.get(kind, 0.0) + cpu_seconds(pid)
    return totals


def big_object_test(storage_url, token, container, size, data_dir):
    pids = read_pids(data_dir)
    if not pids:
        print(f"(no pid files in {data_dir}/run: RSS not sampled; pass --data-dir)")
    block = os.urandom(CHUNK)
    client = Client(storage_url, token)
    name = f"big-{uuid.uuid4().hex[:8]}"
    sampler = RssSampler(pids)
    sampler.start()
    results = []
    try:
        start = time.perf_counter()
        status, _ = client.request("PUT", f"/{container}/{name}", body_stream(size, block), size)
        put_seconds = time.perf_counter() - start
        results.append(("PUT", status, put_seconds))
        start = time.perf_counter()
        status, got = client.request("GET", f"/{container}/{name}")
        results.append(("GET", status if got == size else f"{status} short {got}",
                        time.perf_counter() - start))
    finally:
        sampler.stop()
        client.request("DELETE", f"/{container}/{name}")
    print(f"\n{human(size)} streaming object (one client):")
    for op, status, seconds in results:
        print(f"  {op:<4} status {status}  {seconds:7.2f} s  {size / seconds / 1e6:8.1f} MB/s")
    if pids:
        print(f"  peak RSS per process during the {human(size)} PUT+GET "
              "(sampled VmRSS; VmHWM = lifetime peak):")
        worst = 0
        for name, pid in pids.items():
            hwm = memory_kib(pid).get("VmHWM", 0)
            worst = max(worst, sampler.peak[name])
            print(f"    {name:<14} {sampler.peak[name] / 1024:7.1f} MiB   "
                  f"(VmHWM {hwm / 1024:7.1f} MiB)")
        print(f"  largest: {worst / 1024:.1f} MiB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_credential_flags(parser)
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.brume"),
                        help="cluster data dir, for the pid files whose RSS is sampled")
    parser.add_argument("--sizes", default="4K:16:2000,1M:8:400,64M:2:8",
                        help="SIZE:CONCURRENCY:COUNT,... (default %(default)s)")
    parser.add_argument("--ops", default="PUT,GET,HEAD,DELETE")
    parser.add_argument("--big", default="1G", help="size of the streaming test object")
    parser.add_argument("--no-big", action="store_true", help="skip the streaming test")
    parser.add_argument("--cpu", action="store_true",
                        help="also print each kind of server's CPU milliseconds per operation")
    args = parser.parse_args(argv)
    pids = read_pids(args.data_dir)

    try:
        session = authenticate(args)
    except AuthError as exc:
        sys.exit(f"load.py: {exc} (is the cluster up?)")
    token, storage_url = session.token, session.storage_url
    container = f"bench-{uuid.uuid4().hex[:8]}"
    status, _ = Client(storage_url, token).request("PUT", f"/{container}", b"", 0)
    if status // 100 != 2:
        sys.exit(f"load.py: cannot create container: HTTP {status}")
    ops = [op.strip().upper() for op in args.ops.split(",") if op.strip()]
    print(f"{'size':>8} {'conc':>4} {'op':<6} {'count':>6} {'ops/s':>9} {'MB/s':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8}  errors")
    for spec in args.sizes.split(","):
        size_text, conc_text, count_text = spec.split(":")
        size, concurrency, count = parse_size(size_text), int(conc_text), int(count_text)
        block = os.urandom(min(size, 64 * CHUNK))
        names = [f"{size_text}-{i:06d}-{uuid.uuid4().hex[:6]}" for i in range(count)]
        for op in ops:
            before = cpu_by_kind(pids)
            before["client"] = cpu_seconds(os.getpid())
            result = run_phase(op, storage_url, token, container, names, size, concurrency,
                               block)
            after = cpu_by_kind(pids)
            after["client"] = cpu_seconds(os.getpid())
            errors = result["errors"]
            print(f"{human(size):>8} {concurrency:>4} {op:<6} {count:>6} {result['ops']:9.1f} "
                  f"{result['mbps']:8.1f} {result['p50']:8.1f} {result['p99']:8.1f}  "
                  f"{len(errors)}{(' e.g. ' + errors[0]) if errors else ''}", flush=True)
            if args.cpu and pids:
                spent = {k: (after[k] - before.get(k, 0.0)) * 1000 / count for k in after}
                shown = sorted(((v, k) for k, v in spent.items() if v >= 0.05), reverse=True)
                servers = sum(v for k, v in spent.items() if k != "client")
                print("      CPU ms/op: " + ", ".join(f"{k} {v:.2f}" for v, k in shown)
                      + f"  (servers {servers:.2f})", flush=True)
    if not args.no_big:
        big_object_test(storage_url, token, container, parse_size(args.big), args.data_dir)
    Client(storage_url, token).request("DELETE", f"/{container}")
    print(f"(benchmark container {container} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
