"""A hypervisor's load as the agents report it and as Nova shows it.

Each heartbeat carries the host's uptime in seconds and its 1/5/15-minute load averages
(`read_host_load`, the only IO here: /proc/uptime and os.getloadavg). The API keeps the last
report (`checked_load` refuses anything else) and shows it in Nova's `uptime` text, the
line `uptime(1)` prints, in `GET /os-hypervisors/{id}/uptime` and in the hypervisor details
(as microversion 2.88 does).
"""
from __future__ import annotations

import math
import os
import time


def read_host_load() -> dict:
    """{"uptime_seconds": float, "load_average": [1, 5, 15 min]} of this host."""
    try:
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        uptime = 0.0
    try:
        load = list(os.getloadavg())
    except OSError:
        load = [0.0, 0.0, 0.0]
    return {"uptime_seconds": uptime, "load_average": load}


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def checked_load(report: dict) -> tuple[float | None, list[float] | None]:
    """(uptime seconds, [three load averages]) from an agent report; None where absent or
    malformed (an older agent sends neither)."""
    uptime = report.get("uptime_seconds")
    load = report.get("load_average")
    uptime = float(uptime) if _number(uptime) else None
    if not (isinstance(load, list) and len(load) == 3 and all(_number(v) for v in load)):
        load = None
    return uptime, ([float(v) for v in load] if load is not None else None)


def uptime_text(uptime_seconds: float | None, load: list[float] | None,
                reported_at: float) -> str | None:
    """`uptime(1)`'s line for the report made at `reported_at` (UTC), or None without one."""
    if uptime_seconds is None or load is None:
        return None
    clock = time.strftime("%H:%M:%S", time.gmtime(reported_at))
    minutes = int(uptime_seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    since = f"{hours:2d}:{minutes:02d}" if hours else f"{minutes} min"
    if days:
        since = f"{days} day{'s' if days != 1 else ''}, {since}"
    averages = ", ".join(f"{value:.2f}" for value in load)
    return f" {clock} up {since},  0 users,  load average: {averages}"
