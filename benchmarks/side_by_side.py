"""Brume beside OpenStack Swift: the same object bench matrix against each, in turn (issue 15).

    python3 benchmarks/side_by_side.py [--runs 2] [--peer ../shared/peer] [--out DIR]
                                       [--only brume|swift] [--report]

Each run starts the Swift 2.38.3 all-in-one peer (`setup_peer.sh` first if ~/.peer-swift
is missing), runs the peer's matrix (`run_bench.sh`: 4 KiB ×2000 at concurrency 16, 1 MiB
×300 at 8, 64 MiB ×8 at 2; PUT, GET, HEAD, DELETE, with ETags sent and every GET body
verified), stops it, then `brume up --detach` in a fresh temporary data dir, runs the same
matrix, and `brume down`. Both listen on 127.0.0.1:8080, so the script refuses to start while
anything else listens there. At the end it prints, per op, Brume's ops/s divided by Swift's
for each run beside the issue's goal, then the raw figures. The JSON lines of every run are
kept in --out (default a new temporary directory) for `summarize.py`.

The peer's scripts are used where they are (`--peer`, default `../shared/peer` beside the
repository); nothing of them is copied here. The machine is shared: compare ratios measured
in one sitting, and look at both runs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 8080
AUTH = f"http://127.0.0.1:{PORT}/auth/v1.0"
USER, KEY = "test:tester", "testing"
GOALS = {  # (size, op) -> Brume ÷ Swift wanted in ops/s
    ("4k", "put"): 5.0, ("4k", "get"): 8.0,
    ("1m", "put"): 2.5, ("1m", "get"): 4.0,
    ("64m", "put"): 1.5, ("64m", "get"): 2.0,
}
SIZES = [("4k", 16), ("1m", 8), ("64m", 2)]
OPS = ["put", "get", "head", "delete"]


def port_busy(host: str = "127.0.0.1", port: int = PORT) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_port() -> None:
    if port_busy():
        sys.exit(f"something already listens on 127.0.0.1:{PORT}: stop it first")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench(peer: str, out: str, label: str) -> None:
    subprocess.run(["bash", os.path.join(peer, "run_bench.sh"), AUTH, USER, KEY, out,
                    label, "1"], check=True)


def swift_run(peer: str, out: str, label: str) -> None:
    require_free_port()
    if not os.path.isdir(os.path.expanduser("~/.peer-swift")):
        log("setting up the Swift peer (setup_peer.sh, a few minutes)")
        subprocess.run(["bash", os.path.join(peer, "setup_peer.sh")], check=True)
    log("starting the Swift peer")
    subprocess.run(["bash", os.path.join(peer, "start_peer.sh")], check=True, stdout=sys.stderr)
    try:
        bench(peer, out, label)
    finally:
        subprocess.run(["bash", os.path.join(peer, "stop_peer.sh")], check=False, stdout=sys.stderr)


def brume(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def brume_run(peer: str, out: str, label: str) -> None:
    require_free_port()
    data_dir = tempfile.mkdtemp(prefix="brume-sbs-")
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    log(f"starting brume up in {data_dir}")
    try:
        subprocess.run(brume("up", "--detach", "--data-dir", data_dir),
                       check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        bench(peer, out, label)
    finally:
        subprocess.run(brume("down", "--data-dir", data_dir), check=False, cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(data_dir, ignore_errors=True)


def load(path: str) -> dict[tuple[str, str, str], float]:
    """(label, size, op) -> ops/s from bench.py JSON lines (label: swift#N or brume#N)."""
    figures = {}
    if not os.path.exists(path):
        return figures
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                # run_bench.sh appends its own "#1" (one run per call) to our "swift#N"
                label = row.get("label", "").rsplit("#", 1)[0]
                key = (label, row["size_h"], row["op"])
                figures[key] = row["ops_s"] if not row["errors"] else -row["ops_s"]
    return figures


def table(figures: dict, runs: int) -> str:
    lines = ["| op | Brume ÷ Swift (per run) | goal | Swift ops/s | Brume ops/s |",
             "|---|---|---|---|---|"]
    for size, conc in SIZES:
        for op in OPS:
            ratios, swift, mine = [], [], []
            for run in range(1, runs + 1):
                s = figures.get((f"swift#{run}", size, op))
                b = figures.get((f"brume#{run}", size, op))
                swift.append("-" if s is None else f"{s:.1f}")
                mine.append("-" if b is None else f"{b:.1f}")
                ratios.append(f"{b / s:.2f}×" if s and b and s > 0 and b > 0 else "-")
            goal = GOALS.get((size, op))
            lines.append(f"| {op.upper()} {size}, c{conc} | {', '.join(ratios)} | "
                         f"{'≥ %g×' % goal if goal else ''} | {' / '.join(swift)} | "
                         f"{' / '.join(mine)} |")
    return "\n".join(lines)


def default_peer() -> str:
    here = REPO
    while os.path.dirname(here) != here:
        candidate = os.path.join(os.path.dirname(here), "shared", "peer")
        if os.path.isdir(candidate):
            return candidate
        here = os.path.dirname(here)
    return os.path.join(os.path.dirname(REPO), "shared", "peer")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--peer", default=default_peer(),
                    help="the peer's scripts (default ../shared/peer beside the repository, "
                    "or beside the nearest parent that has one, for a worktree)")
    ap.add_argument("--out", default=None, help="directory for the JSON lines")
    ap.add_argument("--only", choices=["brume", "swift"], default=None,
                    help="run one side only (its ratios then need an earlier --out)")
    ap.add_argument("--report", action="store_true",
                    help="run nothing: print the table of the JSON lines already in --out")
    args = ap.parse_args(argv)
    peer = os.path.abspath(args.peer)
    if not os.path.exists(os.path.join(peer, "run_bench.sh")):
        ap.error(f"no run_bench.sh in {peer}")
    if args.report and not args.out:
        ap.error("--report needs --out")
    out = args.out or tempfile.mkdtemp(prefix="side-by-side-")
    os.makedirs(out, exist_ok=True)
    swift_out, brume_out = os.path.join(out, "swift.jsonl"), os.path.join(out, "brume.jsonl")
    for run in range(1, 0 if args.report else args.runs + 1):
        if args.only != "brume":
            log(f"run {run}: swift")
            swift_run(peer, swift_out, f"swift#{run}")
        if args.only != "swift":
            log(f"run {run}: brume")
            brume_run(peer, brume_out, f"brume#{run}")
    figures = {**load(swift_out), **load(brume_out)}
    print(table(figures, args.runs))
    print(f"\n(negative ops/s: that phase had errors; JSON lines in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
