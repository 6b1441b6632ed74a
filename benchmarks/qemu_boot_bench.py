"""Real-VM boot benchmark (QEMU TCG), run by `benchmarks/boot_bench.py --qemu`.

1. On a `brume up` cluster whose agents use qemu:///system (hv2 disabled, so every boot
   lands on hv1 and its image cache), the demo image (`cli.demo_image`) is uploaded
   `--cold` times under distinct ids; each copy's first boot is a cold-cache boot (the agent
   pulls and verifies the image), then `--warm` boots reuse a cached base. For each boot:
   seconds from POST /servers to ACTIVE, and to the demo's console line.
2. A `--pull-size` (default 1 GiB) raw image is uploaded; its cold-cache pull through the
   agent's own code (ImageSource + ImageCache: service token, GET /v2/images/{id}/file,
   size + MD5 check, fsync, rename) is timed against a plain GET of the same stored object
   through the proxy (bytes read and dropped).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cli.demo_image import DEMO_BOOT_LINE, build_demo_image
from common.v1_auth import V1Session
from compute.image_cache import ImageCache
from compute.image_source import ImageSource
from tests.integration.support import brume
from tests.vm.qemu_support import VmCloud, start_qemu_cluster

MiB = 1024 * 1024


def _timed_boot(cloud: VmCloud, name: str, image_id: str) -> tuple[float, float]:
    start = time.monotonic()
    server_id = cloud.boot(name, image_id)
    cloud.wait_status(server_id, "ACTIVE", timeout=300)
    active = time.monotonic() - start
    cloud.wait_console_count(server_id, DEMO_BOOT_LINE, 1, timeout=300)
    console = time.monotonic() - start
    cloud.delete(server_id)
    return active, console


def _summary(label: str, samples: list[tuple[float, float]]) -> None:
    actives = [a for a, _ in samples]
    consoles = [c for _, c in samples]
    print(f"  {label:<5} ({len(samples)} boots): API-to-ACTIVE mean "
          f"{statistics.mean(actives):5.2f} s (min {min(actives):.2f}, max {max(actives):.2f});"
          f" API-to-console-line mean {statistics.mean(consoles):5.2f} s "
          f"(min {min(consoles):.2f}, max {max(consoles):.2f})")


def boot_figures(cloud: VmCloud, work: str, cold: int, warm: int) -> None:
    demo = build_demo_image(os.path.join(work, "demo"))
    cold_samples, warm_samples = [], []
    image_id = None
    for n in range(cold):
        image_id = cloud.upload(demo.qcow2, f"bench-demo-{n}")["id"]
        cold_samples.append(_timed_boot(cloud, f"cold-{n}", image_id))
    for n in range(warm):
        warm_samples.append(_timed_boot(cloud, f"warm-{n}", image_id))
    print("demo image boots under QEMU TCG (m1.tiny, 1 vCPU / 128 MiB):")
    _summary("cold", cold_samples)
    _summary("warm", warm_samples)


def _write_pull_image(path: str, size: int) -> None:
    block = hashlib.sha512(b"brume").digest() * (MiB // 64)
    with open(path, "wb") as out:
        for index in range(size // MiB):
            out.write(index.to_bytes(8, "big") + block[8:])


def pull_figures(cloud: VmCloud, work: str, size: int) -> None:
    path = os.path.join(work, "pull.raw")
    _write_pull_image(path, size)
    image = cloud.cli("image", "upload", path, "--name", "bench-pull", "--disk-format", "raw",
                      "--format", "json", timeout=1800)
    os.unlink(path)
    image = json.loads(image.stdout)
    conf = cloud.handle
    session = V1Session(conf.auth_url, "service:brume", conf.credentials["service:brume"])
    source = ImageSource(conf.image_url, session)
    cache = ImageCache(os.path.join(work, "pull-cache"), source.stream)
    meta = source.get_meta(image["id"])
    start = time.monotonic()
    cache.fetch(meta)
    pull = time.monotonic() - start

    service_token, storage_url = conf.auth("service:brume")
    request = urllib.request.Request(f"{storage_url}/images/{image['id']}",
                                     headers={"X-Auth-Token": service_token})
    start = time.monotonic()
    got = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        while chunk := response.read(MiB):
            got += len(chunk)
    plain = time.monotonic() - start
    assert got == size, (got, size)
    print(f"cold-cache pull of a {size // MiB} MiB image:")
    print(f"  agent pull (image API, MD5 verified, fsync'd into the cache): "
          f"{size / MiB / pull:7.1f} MB/s ({pull:.1f} s)")
    print(f"  plain GET of the same object through the proxy (bytes dropped): "
          f"{size / MiB / plain:7.1f} MB/s ({plain:.1f} s)")


def run(cold: int = 2, warm: int = 3, pull_size: int = 1024 * MiB) -> None:
    data_dir = tempfile.mkdtemp(prefix="brume-qemu-bench-")
    work = tempfile.mkdtemp(prefix="brume-qemu-bench-work-")
    cloud = None
    try:
        cloud = VmCloud(start_qemu_cluster(data_dir))
        cloud.disable_host("hv2")
        boot_figures(cloud, work, cold, warm)
        if pull_size:
            pull_figures(cloud, work, pull_size)
    finally:
        brume("down", "--data-dir", data_dir, "--timeout", "10", check=False)
        if cloud is not None:
            cloud.remove_leftover_domains()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=2)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--pull-size-mib", type=int, default=1024)
    args = parser.parse_args()
    run(args.cold, args.warm, args.pull_size_mib * MiB)
