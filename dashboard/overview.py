"""The overview page's view model: a project's quota use, from compute's
`os-quota-sets/{project}?usage=true` (Nova's detailed quota set), and its usage over time,
from `os-simple-tenant-usage/{project}` (each server's life and size).

`quota_rows(answer)` turns `{"quota_set": {"instances": {"limit", "in_use"}, ...}}` into one
row per resource (label, used, limit, percent; limit None when unlimited), in a fixed order,
known resources only. `usage_series(answer, now)` cuts the servers' lives into buckets (the
last 24 hours by the hour, the last 14 days by the day): per bucket the instance-hours,
vCPU-hours and RAM GiB-hours used in it, for the page's charts. No IO.
"""
from __future__ import annotations

from datetime import UTC, datetime

HOUR, DAY = 3600, 86400
SERIES = (("hours", HOUR, 24), ("days", DAY, 14))

# (label, quota set key) in the order the page shows them.
RESOURCES = (
    ("Instances", "instances"),
    ("vCPUs", "cores"),
    ("RAM (MiB)", "ram"),
    ("Key pairs", "key_pairs"),
    ("Server groups", "server_groups"),
)


def quota_rows(answer) -> list[dict]:
    quota_set = answer.get("quota_set") if isinstance(answer, dict) else None
    if not isinstance(quota_set, dict):
        return []
    rows = []
    for label, key in RESOURCES:
        detail = quota_set.get(key)
        if not isinstance(detail, dict):
            continue
        used, limit = _number(detail.get("in_use")), _number(detail.get("limit"))
        if limit is not None and limit < 0:
            limit = None
        percent = None
        if used is not None and limit:
            percent = min(100, round(100 * used / limit))
        rows.append({"label": label, "used": used, "limit": limit, "percent": percent})
    return rows


def _number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_window(now: float) -> tuple[str, str]:
    """(start, end) of the usage query: the longest series' span, ISO 8601 in UTC."""
    end = _bucket_end(now, DAY)
    return _iso(end - DAY * 14), _iso(end)


def usage_series(answer, now: float) -> dict:
    """{"hours"|"days": {"start": [epoch], "instances", "vcpus", "ram_gib": [hours]}}."""
    usage = answer.get("tenant_usage") if isinstance(answer, dict) else None
    lives = []
    servers = usage.get("server_usages") if isinstance(usage, dict) else None
    for server in servers if isinstance(servers, list) else []:
        if not isinstance(server, dict):
            continue
        began = _epoch(server.get("started_at"))
        if began is None:
            continue
        ended = _epoch(server.get("ended_at"))
        vcpus, ram = _number(server.get("vcpus")) or 0, _number(server.get("memory_mb")) or 0
        lives.append((began, now if ended is None else min(ended, now), vcpus, ram / 1024))
    result = {}
    for name, width, count in SERIES:
        last_end = _bucket_end(now, width)
        starts = [last_end - width * (count - i) for i in range(count)]
        series = {"start": starts, "instances": [], "vcpus": [], "ram_gib": []}
        for start in starts:
            hours = [(max(0.0, min(end, start + width) - max(began, start)) / HOUR, vcpus, ram)
                     for began, end, vcpus, ram in lives]
            series["instances"].append(round(sum(h for h, _v, _r in hours), 3))
            series["vcpus"].append(round(sum(h * v for h, v, _r in hours), 3))
            series["ram_gib"].append(round(sum(h * r for h, _v, r in hours), 3))
        result[name] = series
    return result


def _bucket_end(now: float, width: int) -> int:
    return (int(now) // width + 1) * width


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
