"""Image service throughput against the object store it sits on.

    python benchmarks/image_bench.py [--size-mib 1024] [--runs 3] [--auth-url URL] [--image-url URL]

Uploads and downloads the same random bytes twice per round: once as a plain proxy PUT/GET of
one object, once through the image API (`PUT/GET /v2/images/{id}/file`, which hashes,
inspects and stores them as a parallel-segment SLO). Prints MB/s for each, how busy the
machine's CPUs were during it, the image/plain ratios of the medians over the rounds
(alternating which goes first), and the image service's peak resident memory (VmHWM, and the
highest VmRSS sampled during the run). The upload ratio depends on what bounds the plain PUT:
near 100% busy it is the CPUs, and the upload's extra hashing (MD5 and SHA-512 of every byte)
then costs throughput; well below, it is the disk, which the upload's parallel segments share.
Credentials: the same flags/environment as `brume` (cli.credentials).
The target: upload >= 80% of the plain PUT's MB/s with the service under 200 MB RSS.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.parse
from statistics import median

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.process_usage import (
    RssSampler,
    busy_share,
    cpu_seconds,
    machine_cpu_ticks,
    memory_kib,
)
from cli.credentials import add_credential_flags, authenticate

CHUNK = 64 * 1024


def connect(url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=600), parts.path


def get_all(url: str, token: str) -> None:
    """GET and discard the body; a 5xx (a busy cluster) is retried twice, and reported."""
    for attempt in range(3):
        try:
            request("GET", url, token, sink=True)
            return
        except SystemExit as exc:
            if attempt == 2 or "HTTP 5" not in str(exc):
                raise
            print(f"warning: {exc}; retrying", flush=True)


def cleanup(url: str, token: str) -> None:
    """DELETE what a round made; a failure is reported, not fatal."""
    try:
        request("DELETE", url, token)
    except SystemExit as exc:
        print(f"warning: cleanup failed: {exc}", flush=True)


def request(method: str, url: str, token: str, body=None, headers=None, sink=False):
    conn, path = connect(url)
    query = urllib.parse.urlsplit(url).query
    path = path + ("?" + query if query else "")
    all_headers = {"X-Auth-Token": token, **(headers or {})}
    if hasattr(body, "read"):
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        while chunk := body.read(CHUNK):
            conn.send(chunk)
    else:
        conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    total = 0
    while chunk := response.read(1024 * 1024 if sink else CHUNK):
        total += len(chunk)
        if not sink:
            data = chunk
    conn.close()
    if response.status // 100 != 2:
        raise SystemExit(f"{method} {url}: HTTP {response.status}")
    return response, (total if sink else (data if total else b""))


def make_data(path: str, size: int) -> None:
    with open(path, "wb") as handle:
        left = size
        block = os.urandom(4 * 1024 * 1024)
        while left:
            piece = block[: min(left, len(block))]
            handle.write(piece)
            left -= len(piece)
            block = block[1:] + block[:1]  # vary blocks a little without more urandom


def find_service_pid(image_url: str) -> int | None:
    port = str(urllib.parse.urlsplit(image_url).port)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        confs = [a for a in argv if a.endswith("image-api.conf")]
        if "common.wsgi_server" not in argv or not confs:
            continue
        try:
            with open(confs[0]) as handle:
                text = handle.read()
        except OSError:
            continue
        if f"bind_port = {port}" in text:
            return int(entry)
    return None


def timed(label: str, size: int, action, busy: list | None = None) -> float:
    """Run `action`, print its MB/s and the machine's CPU busy share; append that share to
    `busy` when given."""
    ticks = machine_cpu_ticks()
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    share = busy_share(ticks, machine_cpu_ticks())
    if busy is not None:
        busy.append(share)
    rate = size / seconds / 1e6
    print(f"{label:<24} {seconds:7.2f} s  {rate:8.1f} MB/s  CPUs {share:4.0%} busy", flush=True)
    return rate


def plain_round(session, token, image_url, data, size, rates) -> None:
    object_url = f"{session.storage_url}/image-bench/blob"

    def put():
        with open(data, "rb") as body:
            request("PUT", object_url, token, body,
                    {"Content-Length": str(size), "Content-Type": "application/octet-stream"})

    rates["plain_up"].append(timed("plain proxy PUT", size, put, rates["plain_up_busy"]))
    rates["plain_down"].append(timed("plain proxy GET", size,
                                     lambda: get_all(object_url, token)))
    cleanup(object_url, token)


def image_round(session, token, image_url, data, size, rates) -> None:
    _, raw = request("POST", f"{image_url}/v2/images", token,
                     json.dumps({"name": "image-bench", "disk_format": "raw",
                                 "container_format": "bare"}).encode(),
                     {"Content-Type": "application/json"})
    image_id = json.loads(raw)["id"]

    def put():
        with open(data, "rb") as body:
            request("PUT", f"{image_url}/v2/images/{image_id}/file", token, body,
                    {"Content-Length": str(size), "Content-Type": "application/octet-stream"})

    before = cpu_seconds(rates["pid"])
    rates["image_up"].append(timed("image API upload", size, put, rates["image_up_busy"]))
    rates["cpu_per_gib"].append((cpu_seconds(rates["pid"]) - before) * 2**30 / size)
    rates["image_down"].append(timed(
        "image API download", size,
        lambda: get_all(f"{image_url}/v2/images/{image_id}/file", token)))
    cleanup(f"{image_url}/v2/images/{image_id}", token)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3, help="rounds of each; medians reported")
    parser.add_argument("--service-pid", type=int, help="image service PID (auto-detected)")
    add_credential_flags(parser)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    session = authenticate(args)
    token, image_url = session.token, session.image_url
    pid = args.service_pid or find_service_pid(image_url)
    sampler = RssSampler({"image-api": pid} if pid else {}, interval=0.05)
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="brume-image-bench-") as work:
        data = os.path.join(work, "data")
        make_data(data, size)
        request("PUT", f"{session.storage_url}/image-bench", token,
                headers={"Content-Length": "0"})
        print(f"{args.size_mib} MiB x {args.runs} runs, image service pid {pid}")
        rates: dict = {"plain_up": [], "plain_down": [], "image_up": [], "image_down": [],
                       "cpu_per_gib": [], "plain_up_busy": [], "image_up_busy": [],
                       "pid": pid}
        for run in range(args.runs):
            # Alternate which goes first so neither always meets a warmer or busier store.
            steps = [plain_round, image_round] if run % 2 == 0 else [image_round, plain_round]
            for step in steps:
                step(session, token, image_url, data, size, rates)
    sampler.stop()
    plain_up, plain_down = median(rates["plain_up"]), median(rates["plain_down"])
    image_up, image_down = median(rates["image_up"]), median(rates["image_down"])
    print(f"medians: plain PUT {plain_up:.1f} MB/s, image upload {image_up:.1f} MB/s, "
          f"plain GET {plain_down:.1f} MB/s, image download {image_down:.1f} MB/s")
    print(f"upload ratio   (image / plain) {image_up / plain_up:6.2f}  (target >= 0.80)")
    print(f"CPUs busy (medians): plain PUT {median(rates['plain_up_busy']):.0%}, "
          f"image upload {median(rates['image_up_busy']):.0%} "
          "(near 100%: bound by the CPUs; well below: by the disk)")
    print(f"download ratio (image / plain) {image_down / plain_down:6.2f}")
    if pid:
        hwm = memory_kib(pid).get("VmHWM", 0) / 1024
        print(f"image service CPU per GiB uploaded: {median(rates['cpu_per_gib']):.2f} s "
              "(hashing MD5 + SHA-512 is most of it)")
        peak = sampler.peak["image-api"] / 1024
        print(f"image service peak RSS: {peak:.1f} MB sampled during the run, "
              f"{hwm:.1f} MB lifetime high-water mark (target < 200 MB)")
    else:
        print("image service process not found on this machine: RSS not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
