"""Instance actions (`os-instance-actions`): who asked what of a server, when, and how it went.

One action per request that changed a server (`create`, `stop`, `start`, `reboot`, `delete`,
`createImage`, `createBackup`, `shelve`, `shelveOffload`, `unshelve`, `rebuild`, `resize`,
`confirmResize`, `revertResize`, `migrate`, `evacuate`, as Nova names them), keyed by the
server and the request id the API gave the request (`X-OpenStack-Request-ID`). Each action
has one event, the step that does the work (Nova's names: `compute_stop_instance`, ...),
started when the action is and finished by the conductor with its result (`Success` or
`Error`); a failed action's `message` is `Error`, as Nova shows it. The tables live in the
compute database and are made on first use.
"""
from __future__ import annotations

import time
import uuid

from compute.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS instance_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    start_time REAL NOT NULL,
    updated_at REAL NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS instance_actions_server ON instance_actions (server_id, id);
CREATE TABLE IF NOT EXISTS instance_action_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    host TEXT,
    start_time REAL NOT NULL,
    finish_time REAL,
    result TEXT,
    details TEXT
);
CREATE INDEX IF NOT EXISTS instance_action_events_action ON instance_action_events
    (action_id);
"""

# action -> the event that does its work
EVENTS = {
    "create": "compute__do_build_and_run_instance",
    "delete": "compute_terminate_instance",
    "stop": "compute_stop_instance",
    "start": "compute_start_instance",
    "reboot": "compute_reboot_instance",
    "createImage": "compute_snapshot_instance",
    "createBackup": "compute_backup_instance",
    "shelve": "compute_shelve_instance",
    "shelveOffload": "compute_shelve_offload_instance",
    "unshelve": "compute_unshelve_instance",
    "rebuild": "compute_rebuild_instance",
    "resize": "compute_resize_instance",
    "migrate": "compute_resize_instance",
    "confirmResize": "compute_confirm_resize",
    "revertResize": "compute_revert_resize",
    "evacuate": "compute_rebuild_instance",
}
SUCCESS = "Success"
ERROR = "Error"
REQUEST_ID_KEY = "brume.request_id"


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def request_id_of(environ: dict) -> str:
    """The request id of a WSGI request (made and kept in its environ on first use)."""
    value = environ.get(REQUEST_ID_KEY)
    if not value:
        value = environ[REQUEST_ID_KEY] = new_request_id()
    return value


class ActionLog:
    """Reads and writes of instance actions and their events."""

    def __init__(self, db: Database):
        self.db = db
        with db.write() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def start(self, server_id: str, action: str, request_id: str, project_id: str,
              user_id: str, host: str | None = None) -> None:
        now = time.time()
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO instance_actions (server_id, request_id, action, project_id,"
                " user_id, start_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (server_id, request_id, action, project_id, user_id, now, now))
            conn.execute(
                "INSERT INTO instance_action_events (action_id, event, host, start_time)"
                " VALUES (?, ?, ?, ?)", (cursor.lastrowid, EVENTS[action], host, now))

    def finish(self, server_id: str, action: str, ok: bool, details: str | None = None,
               host: str | None = None) -> bool:
        """Finish the newest unfinished event of the server's newest `action`; False when
        there is none (finished already, or the action was never recorded)."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT e.id AS event_id, a.id AS action_id FROM instance_actions a"
                " JOIN instance_action_events e ON e.action_id = a.id"
                " WHERE a.server_id = ? AND a.action = ? AND e.finish_time IS NULL"
                " ORDER BY a.id DESC LIMIT 1", (server_id, action)).fetchone()
            if row is None:
                return False
            conn.execute(
                "UPDATE instance_action_events SET finish_time = ?, result = ?, details = ?,"
                " host = COALESCE(?, host) WHERE id = ?",
                (now, SUCCESS if ok else ERROR, details, host, row["event_id"]))
            conn.execute(
                "UPDATE instance_actions SET updated_at = ?, message = ? WHERE id = ?",
                (now, None if ok else ERROR, row["action_id"]))
        return True

    def list(self, server_id: str) -> list[dict]:
        """The server's actions, newest first."""
        return self.db.rows(
            "SELECT * FROM instance_actions WHERE server_id = ? ORDER BY id DESC", (server_id,))

    def get(self, server_id: str, request_id: str) -> dict | None:
        """The server's action of `request_id`, with its events (newest first)."""
        action = self.db.row(
            "SELECT * FROM instance_actions WHERE server_id = ? AND request_id = ?"
            " ORDER BY id DESC LIMIT 1", (server_id, request_id))
        if action is None:
            return None
        action["events"] = self.db.rows(
            "SELECT * FROM instance_action_events WHERE action_id = ? ORDER BY id DESC",
            (action["id"],))
        return action
