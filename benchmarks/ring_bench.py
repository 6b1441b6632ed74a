"""Ring builder benchmark: rebalance time, balance, dispersion, movement, ring file size/load.

Usage: python3 benchmarks/ring_bench.py [--cases 14:12:4,18:120:6,20:1200:8] [--replicas 3]

Each case is part_power:devices:zones. Devices get weights 100/200/300 in turn, four devices
per ip, spread round-robin over the zones of one region. For every case it prints the initial
rebalance time (wall clock and CPU seconds; on a busy machine the CPU figure is the fair one),
max balance (% off the weight share), dispersion (partitions with two replicas in one zone,
and partitions not spread as widely as possible), then the fraction of replica assignments
moved (and the ideal) when adding one device, removing one, and halving one's weight (each
from the same starting ring, one rebalance after pretend_min_part_hours_passed), and finally
the ring file's size and load time.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ring.builder import RingBuilder
from ring.ring import Ring

WEIGHTS = (100, 200, 300)


def build(part_power: int, devices: int, zones: int, replicas: int) -> RingBuilder:
    builder = RingBuilder(part_power, replicas, 1, seed=1)
    for index in range(devices):
        zone = index % zones + 1
        host = index // zones // 4
        builder.add_dev(1, zone, f"10.{zone}.{host // 250}.{host % 250 + 1}", 6200,
                        f"sd{index}", WEIGHTS[index % len(WEIGHTS)])
    return builder


def change(path: str, label: str, mutate, hour: float) -> str:
    builder = RingBuilder.load(path)
    total_before = sum(d.weight for d in builder.existing_devs())
    changed_weight = mutate(builder)
    builder.pretend_min_part_hours_passed()
    started, cpu_started = time.perf_counter(), time.process_time()
    stats = builder.rebalance(now=hour)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    total = max(total_before, sum(d.weight for d in builder.existing_devs()))
    ideal = changed_weight / total
    return (f"  {label:<14} moved {100 * stats['moved_fraction']:6.3f}% (ideal "
            f"{100 * ideal:6.3f}%, x{stats['moved_fraction'] / ideal:5.3f})  max balance "
            f"{stats['max_balance']:6.3f}%  badly dispersed {stats['badly_dispersed']}  "
            f"rebalance {seconds:6.2f}s (cpu {cpu:6.2f}s)")


def add_one(builder: RingBuilder) -> float:
    builder.add_dev(1, 1, "10.250.0.1", 6200, "added", 200)
    return 200.0


def remove_one(builder: RingBuilder) -> float:
    dev = builder.existing_devs()[1]
    builder.remove_dev(dev.id)
    return dev.weight


def halve_one(builder: RingBuilder) -> float:
    dev = builder.existing_devs()[2]
    half = dev.weight / 2
    builder.set_dev_weight(dev.id, half)
    return half


def run_case(part_power: int, devices: int, zones: int, replicas: int, workdir: str) -> None:
    print(f"part_power {part_power}, {devices} devices, {zones} zones, {replicas} replicas",
          flush=True)
    builder = build(part_power, devices, zones, replicas)
    started, cpu_started = time.perf_counter(), time.process_time()
    stats = builder.rebalance(now=1_700_000_000)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    report = builder.dispersion()
    print(f"  initial        rebalance {seconds:6.2f}s (cpu {cpu:6.2f}s)  max balance "
          f"{stats['max_balance']:.3f}%"
          f"  partitions sharing a zone {report['sharing']['zone']}  badly dispersed "
          f"{report['badly_dispersed']}", flush=True)
    path = os.path.join(workdir, f"bench{part_power}.builder")
    builder.save(path)
    hour = 1_700_000_000 + 7200
    print(change(path, "add one", add_one, hour), flush=True)
    print(change(path, "remove one", remove_one, hour), flush=True)
    print(change(path, "halve one", halve_one, hour), flush=True)
    conf_dir = os.path.join(workdir, f"conf{part_power}")
    os.makedirs(conf_dir, exist_ok=True)
    with open(os.path.join(conf_dir, "brume.conf"), "w") as handle:
        handle.write("[cluster]\nhash_path_prefix = bench\nhash_path_suffix = bench\n")
    ring_path = builder.write_ring(os.path.join(conf_dir, "object.ring.gz"))
    started, cpu_started = time.perf_counter(), time.process_time()
    ring = Ring(conf_dir, "object")
    load_seconds, load_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    started = time.perf_counter()
    for index in range(10000):
        ring.get_nodes("AUTH_bench", "c", f"o{index}")
    lookup_us = (time.perf_counter() - started) / 10000 * 1e6
    print(f"  ring file      {os.path.getsize(ring_path) / 1024:8.1f} KiB  load "
          f"{1000 * load_seconds:7.1f} ms (cpu {1000 * load_cpu:6.1f} ms)  get_nodes "
          f"{lookup_us:5.1f} us", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="14:12:4,18:120:6,20:1200:8")
    parser.add_argument("--replicas", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for case in opts.cases.split(","):
            part_power, devices, zones = (int(x) for x in case.split(":"))
            run_case(part_power, devices, zones, opts.replicas, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
