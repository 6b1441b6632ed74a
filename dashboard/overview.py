"""The overview page's view model: a project's quota use, from compute's `/limits`.

`quota_rows(limits)` turns Nova's `{"limits": {"absolute": {...}}}` into one row per
resource (label, used, limit, percent; limit None when unlimited). No IO.
"""
from __future__ import annotations

# (label, used key, limit key) in the order the page shows them.
RESOURCES = (
    ("Instances", "totalInstancesUsed", "maxTotalInstances"),
    ("vCPUs", "totalCoresUsed", "maxTotalCores"),
    ("RAM (MiB)", "totalRAMUsed", "maxTotalRAMSize"),
    ("Key pairs", None, "maxTotalKeypairs"),
    ("Server groups", "totalServerGroupsUsed", "maxServerGroups"),
)


def quota_rows(limits: dict) -> list[dict]:
    absolute = {}
    if isinstance(limits, dict) and isinstance(limits.get("limits"), dict):
        absolute = limits["limits"].get("absolute") or {}
    rows = []
    for label, used_key, limit_key in RESOURCES:
        if limit_key not in absolute:
            continue
        used = _number(absolute.get(used_key)) if used_key else None
        limit = _number(absolute.get(limit_key))
        if limit is not None and limit < 0:
            limit = None
        percent = None
        if used is not None and limit:
            percent = min(100, round(100 * used / limit))
        rows.append({"label": label, "used": used, "limit": limit, "percent": percent})
    return rows


def _number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
