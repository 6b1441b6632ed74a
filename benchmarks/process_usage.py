"""What a running process uses, read from /proc: CPU seconds, resident memory, sampled peaks;
and how busy the whole machine's CPUs were over a span.

Used by the benchmarks to report the CPU and memory a server spent on their load, and
whether a phase was bound by the CPUs (the machine near 100% busy) or by something else.
"""
from __future__ import annotations

import os
import threading


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds used so far by `pid` (0 when unknown or gone)."""
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot; idle and I/O wait are not busy."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share (0..1) of the CPUs' time spent busy between two `machine_cpu_ticks()`."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def memory_kib(pid: int) -> dict[str, int]:
    """`VmRSS` (resident now) and `VmHWM` (lifetime peak) of `pid` in KiB; {} when gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    values[key] = int(value.split()[0])
    except OSError:
        pass
    return values


class RssSampler(threading.Thread):
    """Samples VmRSS of named processes until stopped; keeps each one's peak in KiB."""

    def __init__(self, pids: dict[str, int], interval: float = 0.1):
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, int] = {name: 0 for name in pids}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for name, pid in self.pids.items():
                rss = memory_kib(pid).get("VmRSS", 0)
                self.peak[name] = max(self.peak[name], rss)
            self.done.wait(self.interval)

    def stop(self):
        self.done.set()
        self.join()
