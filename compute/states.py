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
SHELVED = "shelved"  # shut off, disk still on its host (shelved_offload_time > 0 or -1)
SHELVED_OFFLOADED = "shelved_offloaded"  # disk in the image service, no host
RESIZED = "resized"  # resized or cold-migrated, waiting for confirmResize/revertResize

# task_state
SCHEDULING = "scheduling"
SPAWNING = "spawning"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOT_STARTED = "reboot_started"
REBOOT_STARTED_HARD = "reboot_started_hard"
DELETING = "deleting"
BLOCK_DEVICE_MAPPING = "block_device_mapping"  # waiting for the boot volume (boot_volumes)
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_BACKUP = "image_backup"
SHELVING = "shelving"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
REBUILDING = "rebuilding"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
RESIZE_TASKS = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_FINISH)

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
    "REBUILD": {ACTIVE, STOPPED, ERROR},
    "RESIZE": {ACTIVE, STOPPED},
    "VERIFY_RESIZE": {RESIZED},
    "REVERT_RESIZE": {RESIZED},
    "SHELVED": {SHELVED},
    "SHELVED_OFFLOADED": {SHELVED_OFFLOADED},
}


def status_of(vm_state: str, task_state: str | None) -> str:
    """The Nova `status` for a server."""
    if task_state == REBUILDING and vm_state in (ACTIVE, STOPPED, ERROR):
        return "REBUILD"
    if task_state in RESIZE_TASKS and vm_state in (ACTIVE, STOPPED):
        return "RESIZE"
    if vm_state == ACTIVE:
        if task_state == REBOOT_STARTED:
            return "REBOOT"
        if task_state == REBOOT_STARTED_HARD:
            return "HARD_REBOOT"
        return "ACTIVE"
    if vm_state == RESIZED:
        return "REVERT_RESIZE" if task_state == RESIZE_REVERTING else "VERIFY_RESIZE"
    return {
        BUILDING: "BUILD",
        STOPPED: "SHUTOFF",
        ERROR: "ERROR",
        DELETED: "DELETED",
        SHELVED: "SHELVED",
        SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
    }.get(vm_state, "UNKNOWN")
