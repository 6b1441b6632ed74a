"""The overview page's view model: a project's quota use, from compute's
`os-quota-sets/{project}?usage=true` (Nova's detailed quota set).

`quota_rows(answer)` turns `{"quota_set": {"instances": {"limit", "in_use"}, ...}}` into one
row per resource (label, used, limit, percent; limit None when unlimited), in a fixed order,
known resources only. No IO.
"""
from __future__ import annotations

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
