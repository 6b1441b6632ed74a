"""Volume, snapshot and backup statuses as Cinder reports them, and which action each allows.

No IO. A volume is `creating` until its file is made (`available`, or `error`), `reserved`
or `attaching` while a server takes it, `in-use` while attached, `detaching` on the way
back, `extending` while it grows, `backing-up` or `restoring-backup` while a backup reads
or a restore writes it, `deleting` on its way out. An action names the statuses it may
start from (`require`) and the one it moves the volume to; anything else is a 409 naming
the status, as Cinder's "Invalid volume: Volume status must be available".
"""
from __future__ import annotations

CREATING = "creating"
AVAILABLE = "available"
RESERVED = "reserved"
ATTACHING = "attaching"
IN_USE = "in-use"
DETACHING = "detaching"
EXTENDING = "extending"
DELETING = "deleting"
ERROR = "error"
ERROR_DELETING = "error_deleting"
ERROR_EXTENDING = "error_extending"
BACKING_UP = "backing-up"
RESTORING = "restoring-backup"
ERROR_RESTORING = "error_restoring"

VOLUME_STATUSES = (CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE, DETACHING, EXTENDING,
                   DELETING, ERROR, ERROR_DELETING, ERROR_EXTENDING, BACKING_UP, RESTORING,
                   ERROR_RESTORING)

# action -> statuses it may start from
ALLOWED_FROM = {
    "delete": (AVAILABLE, ERROR, ERROR_DELETING, ERROR_EXTENDING, ERROR_RESTORING),
    "extend": (AVAILABLE,),
    "attach": (AVAILABLE,),
    "snapshot": (AVAILABLE,),
    "snapshot_force": (AVAILABLE, IN_USE),
    "backup": (AVAILABLE,),
    "backup_force": (AVAILABLE, IN_USE),
    "restore": (AVAILABLE,),
    "clone": (AVAILABLE,),
    "reset": VOLUME_STATUSES,
}


class InvalidState(Exception):
    """The volume's status does not allow the action; the message says so, Cinder-like."""


def require(action: str, status: str, what: str = "Volume") -> None:
    """Raise InvalidState unless a volume in `status` may undergo `action`."""
    allowed = ALLOWED_FROM[action]
    if status not in allowed:
        raise InvalidState(f"Invalid volume: {what} status must be "
                           f"{' or '.join(allowed[:3])}{', ...' if len(allowed) > 3 else ''}"
                           f" to {action.split('_')[0]}, but current status is: {status}.")


def after_detach(remaining_attachments: int) -> str:
    """The volume's status once one attachment is gone."""
    return IN_USE if remaining_attachments else AVAILABLE


# Snapshots and backups: the statuses of their own lives.
SNAPSHOT_STATUSES = (CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING)
BACKUP_STATUSES = (CREATING, AVAILABLE, DELETING, ERROR, RESTORING)


def require_snapshot_deletable(status: str) -> None:
    if status not in (AVAILABLE, ERROR, ERROR_DELETING):
        raise InvalidState(f"Invalid snapshot: Snapshot status must be available or error "
                           f"to delete, but current status is: {status}.")


def require_backup(action: str, status: str) -> None:
    allowed = {"delete": (AVAILABLE, ERROR), "restore": (AVAILABLE,)}[action]
    if status not in allowed:
        raise InvalidState(f"Invalid backup: Backup status must be {' or '.join(allowed)} "
                           f"to {action}, but current status is: {status}.")
