"""Server states as Nova reports them, and how a (vm_state, task_state) pair maps to a status.

`vm_state` is the stable state a server rests in, `task_state` the operation in flight (or
None), `power_state` what the hypervisor last said. The user-visible `status` is derived from
the first two exactly as Nova's API does.
"""
from __future__ import annotations

# vm_state
BUILDING = "building"
ACTIVE = "active"
STOPPED = "stopped"
ERROR = "error"
DELETED = "deleted"

# task_state
SCHEDULING = "scheduling"
SPAWNING = "spawning"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOT_STARTED = "reboot_started"
REBOOT_STARTED_HARD = "reboot_started_hard"
DELETING = "deleting"
BLOCK_DEVICE_MAPPING = "block_device_mapping"  # waiting for the boot volume (boot_volumes)

# power_state (libvirt-derived integers, as Nova uses them)
NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6
SUSPENDED = 7

POWER_STATE_NAMES = {
    NOSTATE: "NOSTATE",
    RUNNING: "RUNNING",
    PAUSED: "PAUSED",
    SHUTDOWN: "SHUTDOWN",
    CRASHED: "CRASHED",
    SUSPENDED: "SUSPENDED",
}

# Task states that an API restart must resume (the operation was asked but not finished).
RESUMABLE_TASKS = (POWERING_OFF, POWERING_ON, REBOOT_STARTED, REBOOT_STARTED_HARD, DELETING)

# Status names a user may filter on, mapped to the vm_states they cover.
STATUS_FILTERS = {
    "BUILD": {BUILDING},
    "ACTIVE": {ACTIVE},
    "SHUTOFF": {STOPPED},
    "ERROR": {ERROR},
    "DELETED": {DELETED},
    "REBOOT": {ACTIVE},
    "HARD_REBOOT": {ACTIVE},
}


def status_of(vm_state: str, task_state: str | None) -> str:
    """The Nova `status` for a server."""
    if vm_state == ACTIVE:
        if task_state == REBOOT_STARTED:
            return "REBOOT"
        if task_state == REBOOT_STARTED_HARD:
            return "HARD_REBOOT"
        return "ACTIVE"
    return {
        BUILDING: "BUILD",
        STOPPED: "SHUTOFF",
        ERROR: "ERROR",
        DELETED: "DELETED",
    }.get(vm_state, "UNKNOWN")
