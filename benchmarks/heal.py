"""How fast Brume heals: rebuild a wiped device, and audit speed against raw MD5.

    python benchmarks/heal.py [--small 20000] [--small-size 4K] [--large 20] [--large-size 64M]
                              [--concurrency 16] [--keep]

Starts its own 4-node all-in-one cluster (`brume up --detach` in a temp data dir, random
loopback prefix and ports; the daemon loops are stopped so the benchmark drives every pass),
uploads the objects through the proxy, wipes the device of a node holding the container
(every file, as a replaced disk), then runs replication passes (object, container and account
replicators on every node at once, `python -m storage.daemons.runner CONF --once NAME`) until
every object and database the device should hold is back. It prints the seconds until full
durability, the passes needed, the MB moved and MB/s. Then it runs one unthrottled
object-auditor pass on a node and compares its MB/s with this machine's raw hashlib MD5 speed.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.figures import parse_size  # noqa: E402
from cli.allinone import processes  # noqa: E402
from cli.allinone.layout import load_layout  # noqa: E402
from cli.credentials import authenticate  # noqa: E402

CHUNK = 1 << 20


def brume(*args: str) -> None:
    env = processes.child_env()
    result = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"heal.py: brume {args[0]} failed:\n{result.stdout}\n{result.stderr}")


def start_cluster(data_dir: str):
    rng = random.Random()
    prefix = f"127.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}."
    base = rng.randrange(20000, 40000, 10)
    brume("up", "--detach", "--test-driver", "--data-dir", data_dir, "--ip-prefix", prefix,
          "--storage-port", str(base), "--proxy-port", str(base + 3),
          "--image-port", str(base + 4), "--compute-port", str(base + 5))
    layout = load_layout(data_dir)
    for node in layout.nodes:
        processes.kill(layout, layout.spec(f"daemons-{node}"))
    return layout


def auth(layout) -> tuple[str, str]:
    creds = argparse.Namespace(auth_url=layout.auth_url, user="test:tester", key="testing")
    session = authenticate(creds)
    return session.token, session.storage_url


def upload(storage_url: str, token: str, jobs: list[tuple[str, int]], concurrency: int) -> None:
    parts = urllib.parse.urlsplit(storage_url)
    lock = threading.Lock()
    pending = list(jobs)
    failures = []

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        while True:
            with lock:
                if not pending:
                    return
                name, size = pending.pop()
            conn.putrequest("PUT", f"{parts.path}/heal/{name}")
            conn.putheader("X-Auth-Token", token)
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            block = os.urandom(min(size, CHUNK))
            left = size
            while left:
                piece = block[: min(left, len(block))]
                conn.send(piece)
                left -= len(piece)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                failures.append((name, resp.status))

    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("PUT", f"{parts.path}/heal", headers={"X-Auth-Token": token})
    conn.getresponse().read()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"heal.py: {len(failures)} uploads failed, e.g. {failures[0]}")


def container_node(layout, storage_url: str) -> int:
    """The storage node holding the first replica of the benchmark's container."""
    from ring.ring import Ring

    account = storage_url.rstrip("/").rsplit("/", 1)[1]
    _part, nodes = Ring(layout.conf_dir, "container").get_nodes(account, "heal")
    return next(n for n in layout.nodes if layout.node_ip(n) == nodes[0]["ip"])


def count_device(dev_dir: str) -> tuple[int, int]:
    """(.data files, database files) on a device."""
    data = dbs = 0
    for _root, _dirs, names in os.walk(dev_dir):
        for name in names:
            if name.endswith(".data"):
                data += 1
            elif name.endswith(".db"):
                dbs += 1
    return data, dbs


def run_pass(layout, name: str) -> list[dict]:
    procs = [subprocess.Popen(processes.command(layout.spec(f"daemons-{n}"), "--once", name),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=processes.child_env(), cwd=layout.data_dir)
             for n in layout.nodes]
    records = []
    for proc in procs:
        out, _ = proc.communicate(timeout=3600)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        records.append(json.loads(lines[-1]) if lines else {"counts": {}})
    return records


def md5_speed(total: int = 512 << 20) -> float:
    block = os.urandom(CHUNK)
    digest = hashlib.md5(usedforsecurity=False)
    start = time.perf_counter()
    for _ in range(total // CHUNK):
        digest.update(block)
    return total / (time.perf_counter() - start) / 1e6


def unthrottle_auditor(conf_path: str) -> None:
    with open(conf_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    section = None
    out = []
    for line in lines:
        if line.startswith("["):
            section = line.strip()
        key = line.split("=", 1)[0].strip()
        if section == "[object-auditor]" and key in ("bytes_per_second", "files_per_second"):
            line = f"{key} = 0"
        out.append(line)
    with open(conf_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=20000)
    parser.add_argument("--small-size", default="4K")
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--large-size", default="64M")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    small_size, large_size = parse_size(args.small_size), parse_size(args.large_size)

    data_dir = tempfile.mkdtemp(prefix="brume-heal-bench-")
    layout = start_cluster(data_dir)
    try:
        token, url = auth(layout)
        jobs = [(f"small-{i:06d}", small_size) for i in range(args.small)]
        jobs += [(f"large-{i:03d}", large_size) for i in range(args.large)]
        started = time.monotonic()
        upload(url, token, jobs, args.concurrency)
        total_bytes = args.small * small_size + args.large * large_size
        print(f"objects: {args.small} x {args.small_size} + {args.large} x {args.large_size} "
              f"({total_bytes / 1e6:.0f} MB) uploaded in {time.monotonic() - started:.1f} s")

        victim = container_node(layout, url)
        dev_dir = os.path.join(layout.devices_root(victim), layout.device_name(victim))
        expected = count_device(dev_dir)
        print(f"node {victim} device holds {expected[0]} objects and {expected[1]} databases;"
              " wiping it")
        for entry in os.listdir(dev_dir):
            shutil.rmtree(os.path.join(dev_dir, entry), ignore_errors=True)

        started = time.monotonic()
        moved = 0
        passes = 0
        while count_device(dev_dir) != expected:
            passes += 1
            for name in ("object-replicator", "container-replicator", "account-replicator"):
                records = run_pass(layout, name)
                moved += sum(r["counts"].get("bytes_pushed", 0) for r in records)
            if passes > 20:
                print(f"not healed after {passes} passes: {count_device(dev_dir)} of {expected}")
                return 1
        elapsed = time.monotonic() - started
        print(f"full durability back after {elapsed:.1f} s ({passes} pass(es) of the "
              f"replicators on 4 nodes); {moved / 1e6:.0f} MB of object bodies moved, "
              f"{moved / 1e6 / elapsed:.1f} MB/s")

        conf = layout.spec("daemons-1").conf_path
        unthrottle_auditor(conf)
        proc = subprocess.run(processes.command(layout.spec("daemons-1"), "--once",
                                                "object-auditor"),
                              capture_output=True, text=True, env=processes.child_env(),
                              cwd=layout.data_dir, timeout=3600)
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        counts = record["counts"]
        audit_speed = counts["bytes"] / 1e6 / max(record["duration"], 1e-6)
        raw = md5_speed()
        print(f"object auditor (unthrottled, node 1): {counts['files']} files, "
              f"{counts['bytes'] / 1e6:.0f} MB in {record['duration']:.1f} s = "
              f"{audit_speed:.0f} MB/s; raw hashlib MD5 here: {raw:.0f} MB/s "
              f"({100 * audit_speed / raw:.0f}%)")
    finally:
        if args.keep:
            print(f"cluster left running: brume down --data-dir {data_dir}")
        else:
            brume("down", "--data-dir", data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
