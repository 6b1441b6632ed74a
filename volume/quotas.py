"""Per-project quotas of the volume service, with no IO: resources, usage, the over-quota check.

Cinder's quota resources: `volumes`, `snapshots`, `backups` (counts), `gigabytes` (volumes
plus snapshots), `backup_gigabytes`, and `per_volume_gigabytes` (the largest one volume may
be). -1 is unlimited. `check(limits, usage, wanted)` raises `OverQuota` for the first
resource the request would take over its limit; the store runs it inside the transaction
that inserts the resource, so concurrent creates never exceed a quota.
"""
from __future__ import annotations

RESOURCES = ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes",
             "per_volume_gigabytes")
QUOTA_DEFAULTS = {"volumes": 10, "gigabytes": 1000, "snapshots": 10, "backups": 10,
                  "backup_gigabytes": 1000, "per_volume_gigabytes": -1}
COUNTED = ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes")

# Cinder's exception names for each resource, in its 413 messages.
_LIMIT_NAMES = {"volumes": "VolumeLimitExceeded", "snapshots": "SnapshotLimitExceeded",
                "backups": "BackupLimitExceeded"}


class OverQuota(Exception):
    """A request would take a project over one of its quotas; the message says which."""


def check(limits: dict, usage: dict, wanted: dict) -> None:
    """Raise OverQuota when adding `wanted` ({resource: amount}) to `usage` passes a limit.

    `wanted` may name `per_volume_gigabytes`: the size of the one volume being made."""
    for resource in RESOURCES:
        amount = wanted.get(resource, 0)
        limit = limits.get(resource, -1)
        if not amount or limit < 0:
            continue
        if resource == "per_volume_gigabytes":
            if amount > limit:
                raise OverQuota(f"VolumeSizeExceedsLimit: Requested volume size {amount}G is "
                                f"larger than maximum allowed limit {limit}G.")
            continue
        used = usage.get(resource, 0)
        if used + amount <= limit:
            continue
        if resource in _LIMIT_NAMES:
            kind = resource[:-1]
            raise OverQuota(f"{_LIMIT_NAMES[resource]}: Maximum number of {kind}s allowed "
                            f"({limit}) exceeded for quota '{resource}'.")
        raise OverQuota(f"VolumeSizeExceedsAvailableQuota: Requested {amount}G exceeds the "
                        f"'{resource}' quota: the quota is {limit}G and {used}G has been "
                        f"consumed.")


def parse_update(doc: dict) -> dict:
    """The {resource: limit} of a quota-set update body; ValueError on anything else."""
    limits = {}
    for key, value in doc.items():
        if key in ("tenant_id", "id"):
            continue
        if key not in RESOURCES:
            raise ValueError(f"Bad key(s) in quota set: {key}")
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < -1 \
                or value > 2**31 - 1:
            raise ValueError(f"Quota limit {value!r} for {key} must be an integer >= -1")
        limits[key] = value
    return limits
