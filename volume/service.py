"""The volume service's state shared by all handlers: config, store, files, exports, jobs.

`VolumeService.caller(req, project_id)` is how a handler learns who is asking: the
`X-Auth-Token` checked locally by `common.token_check` (else 401), and the project of the
URL, which must be the token's unless the caller is an admin (403). Writes need `member`
(a `reader` gets 403). `find(...)` is a resource of that project, or a 404 in Cinder's
words: what a caller may not see does not exist for them. Slow work (an image into a
volume, a snapshot copy, a backup, a restore) runs in a green thread through `spawn`;
the handler answers 202 at once. `recover()` runs at start: work that was in progress when
the service stopped ends in `error`, and the exports of attached volumes run again.
"""
from __future__ import annotations

import logging
import uuid

from webob import Request

from common.http_errors import HTTPError
from common.object_store import ObjectStore
from common.token_check import Requester, TokenChecker
from volume import states
from volume.backups import BackupStore
from volume.config import VolumeConfig
from volume.disks import VolumeFiles
from volume.exports import ExportError, NbdExports
from volume.image_source import ImageSource
from volume.store import Store

log = logging.getLogger("brume.volume")

NOT_FOUND_WORDS = {"volumes": "Volume", "snapshots": "Snapshot", "backups": "Backup",
                   "attachments": "Volume attachment"}
# Statuses that only a running job holds: after a restart nothing will finish them.
IN_FLIGHT = {states.CREATING, states.EXTENDING, states.BACKING_UP, states.RESTORING,
             states.DELETING}


def new_id() -> str:
    return str(uuid.uuid4())


class VolumeService:
    def __init__(self, config: VolumeConfig, spawn, sleep, *, exports=None,
                 object_store=None, images=None):
        self.config = config
        self.store = Store(config.db_path)
        self.files = VolumeFiles(config.volumes_dir)
        self.exports = exports if exports is not None else NbdExports(
            config.volumes_dir, config.export_host, sleep)
        self.images = images if images is not None else ImageSource(config.image_url)
        store = object_store if object_store is not None else ObjectStore(
            config.auth_url, config.service_user, config.service_key, config.store_account)
        self.backups = BackupStore(store, config.backup_chunk_mib * 1024 * 1024)
        self.tokens = TokenChecker.from_values(config.token_check, config.token_secret,
                                               f"{config.where}: [volume]")
        self.spawn = spawn
        self.sleep = sleep

    # callers -------------------------------------------------------------------------
    def caller(self, req: Request, project_id: str) -> Requester:
        requester = self.tokens.requester(req.headers.get("X-Auth-Token"))
        if requester is None:
            raise HTTPError(401, "The request you have made requires authentication.")
        if project_id != requester.project_id and not requester.is_admin:
            raise HTTPError(403, "Policy doesn't allow access to another project's volumes.")
        if req.method not in ("GET", "HEAD") and not requester.can_write:
            raise HTTPError(403, "Policy doesn't allow this operation to be performed.")
        return requester

    def find(self, table: str, ident: str, project_id: str) -> dict:
        row = self.store.get(table, ident)
        if row is None or row["project_id"] != project_id:
            raise HTTPError(404, f"{NOT_FOUND_WORDS[table]} {ident} could not be found.")
        return row

    def limits(self, project_id: str) -> dict:
        return self.store.limits(project_id, self.config.quotas)

    # jobs ----------------------------------------------------------------------------
    def run_job(self, function, *args) -> None:
        """`function(*args)` in a green thread; a bug is logged, never lost."""
        self.spawn(self._guarded, function, *args)

    @staticmethod
    def _guarded(function, *args) -> None:
        try:
            function(*args)
        except Exception:
            log.exception("%s failed", getattr(function, "__name__", function))

    def recover(self) -> None:
        with self.store.write() as tx:
            for table in ("volumes", "snapshots", "backups"):
                for row in tx.conn.execute(f"SELECT id, status FROM {table}").fetchall():
                    if row["status"] in IN_FLIGHT:
                        tx.update(table, row["id"], {"status": _after_restart(
                            table, row["status"])})
        for attachment in self.store.select("attachments", "export_port IS NOT NULL"):
            path = self.files.volume_path(attachment["volume_id"])
            try:
                self.exports.start(attachment["id"], attachment["volume_id"], path,
                                   attachment["export_port"])
            except ExportError as exc:
                log.warning("cannot export volume %s again: %s", attachment["volume_id"], exc)


def _after_restart(table: str, status: str) -> str:
    if status == states.RESTORING:
        return states.AVAILABLE if table == "backups" else states.ERROR_RESTORING
    if status == states.EXTENDING:
        return states.ERROR_EXTENDING
    return states.ERROR_DELETING if status == states.DELETING else states.ERROR
