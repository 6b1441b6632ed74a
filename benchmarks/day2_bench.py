"""Day-2 compute figures on real VMs (QEMU TCG): snapshot MB/s, shelve and unshelve seconds.

On a `brume up` cluster whose agents use qemu:///system (tests/vm/qemu_support.py), a server
boots from a 1 GiB disk (the demo image grown to `--disk-mib` and filled past the demo's own
bytes with random data, so the disk really holds that much and nothing compresses it). Then:

- `createImage` on the running server: seconds from the POST to the image being `active`
  (the guest paused, its disk flattened into qcow2, uploaded through the image service with
  its checksum checks), and MB/s of the image's stored size over that time;
- `shelve` to SHELVED_OFFLOADED (clean stop, disk into the image service, host freed) and
  `unshelve` to ACTIVE and to the demo's console line (a new claim, the image pulled into
  the node's cache, the domain built and booted).

Usage: python3 benchmarks/day2_bench.py [--disk-mib 1024] [--runs 1]   (root, libvirtd)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cli.demo_image import DEMO_BOOT_LINE, build_demo_image
from tests.compute.support import http
from tests.integration.support import brume, wait_until
from tests.vm.qemu_support import VmCloud, start_qemu_cluster

MiB = 1024 * 1024
DEMO_BYTES_KEPT = 64 * MiB  # the demo ISO's bytes stay as they are (it must still boot)


def make_full_disk(demo_qcow2: str, out_dir: str, size_mib: int) -> str:
    """A qcow2 of `size_mib` MiB: the demo's bytes, then random data to the end."""
    raw = os.path.join(out_dir, "full.raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", demo_qcow2, raw], check=True)
    os.truncate(raw, size_mib * MiB)
    with open(raw, "r+b") as disk:
        disk.seek(DEMO_BYTES_KEPT)
        for _ in range(DEMO_BYTES_KEPT // MiB, size_mib):
            disk.write(os.urandom(MiB))
    full = os.path.join(out_dir, "full.qcow2")
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, full], check=True)
    os.unlink(raw)
    return full


def act(cloud: VmCloud, server_id: str, body: dict) -> dict:
    status, answer = http("POST", f"{cloud.compute}/servers/{server_id}/action", cloud.token(),
                          body=body, timeout=120, headers={"X-OpenStack-Nova-API-Version":
                                                           "2.45"})
    if status != 202:
        raise RuntimeError(f"{list(body)[0]}: {status} {answer}")
    return answer or {}


def image_record(cloud: VmCloud, image_id: str) -> dict:
    status, record = http("GET", f"{cloud.handle.image_url}/v2/images/{image_id}",
                          cloud.token(), timeout=60)
    if status != 200:
        raise RuntimeError(f"image {image_id}: {status} {record}")
    return record


def one_run(cloud: VmCloud, image_id: str, run: int) -> dict[str, float]:
    server_id = cloud.boot(f"day2-{run}", image_id)
    cloud.wait_status(server_id, "ACTIVE", timeout=900)
    cloud.wait_console_count(server_id, DEMO_BOOT_LINE, 1, timeout=300)
    figures = {}

    start = time.monotonic()
    snapshot_id = act(cloud, server_id, {"createImage": {"name": f"day2-snap-{run}"}})["image_id"]
    record = wait_until(lambda: (lambda r: r if r["status"] == "active" else None)(
        image_record(cloud, snapshot_id)), timeout=1800, interval=0.5, message="snapshot")
    figures["snapshot_s"] = time.monotonic() - start
    figures["snapshot_mib"] = record["size"] / MiB
    figures["snapshot_mb_s"] = record["size"] / 1e6 / figures["snapshot_s"]
    print(f"  snapshot: {figures['snapshot_mib']:.0f} MiB in {figures['snapshot_s']:.1f} s",
          flush=True)
    http("DELETE", f"{cloud.handle.image_url}/v2/images/{snapshot_id}", cloud.token(),
         timeout=60)

    start = time.monotonic()
    act(cloud, server_id, {"shelve": None})
    cloud.wait_status(server_id, "SHELVED_OFFLOADED", timeout=1800)
    figures["shelve_s"] = time.monotonic() - start
    print(f"  shelve: {figures['shelve_s']:.1f} s", flush=True)
    start = time.monotonic()
    act(cloud, server_id, {"unshelve": None})
    cloud.wait_status(server_id, "ACTIVE", timeout=1800)
    figures["unshelve_active_s"] = time.monotonic() - start
    # the unshelved guest's console log starts afresh (its old instance files went with
    # the offload)
    cloud.wait_console_count(server_id, DEMO_BOOT_LINE, 1, timeout=300)
    figures["unshelve_console_s"] = time.monotonic() - start
    cloud.delete(server_id, timeout=300)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--disk-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="brume-day2-")
    data_dir = os.path.join(work, "cluster")
    try:
        demo = build_demo_image(os.path.join(work, "demo"))
        disk = make_full_disk(demo.qcow2, work, args.disk_mib)
        handle = start_qemu_cluster(data_dir)
        cloud = VmCloud(handle)
        cloud.disable_host("hv2")
        start = time.monotonic()
        image_id = cloud.upload(disk, "day2-full")["id"]
        print(f"upload of the {args.disk_mib} MiB disk image: "
              f"{time.monotonic() - start:.1f} s")
        for run in range(args.runs):
            f = one_run(cloud, image_id, run)
            print(f"run {run + 1}: snapshot {f['snapshot_mib']:.0f} MiB in "
                  f"{f['snapshot_s']:.1f} s = {f['snapshot_mb_s']:.1f} MB/s; "
                  f"shelve {f['shelve_s']:.1f} s; unshelve {f['unshelve_active_s']:.1f} s "
                  f"to ACTIVE, {f['unshelve_console_s']:.1f} s to the console line")
    finally:
        brume("down", "--data-dir", data_dir, "--with-vms", check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
