"""The volume service's WSGI app (`[server] app = volume.app:make_app`, port 8776).

Routes `/`, `/v3` and `/v3/{project_id}/...` to their handlers (`volume.api_*`);
handlers raise `HTTPError`s, rendered in Cinder's fault shape (`volume.web.render_fault`)
by `common.http_errors.error_middleware`; a write that lost a race in the store is a 409, a
store locked too long a 503. Every answer names the API version it speaks
(`OpenStack-API-Version: volume 3.44`). `make_app` loads the config, opens the store,
recovers what a restart interrupted (`VolumeService.recover`), starts the revocation poller
and returns the app.
"""
from __future__ import annotations

import logging
import sqlite3

from webob import Request

from common.http_errors import HTTPError, error_middleware
from common.routes import Router, request_path
from volume import (
    api_attachments,
    api_backups,
    api_quotas,
    api_snapshots,
    api_versions,
    api_volumes,
)
from volume.config import load_volume_config
from volume.service import VolumeService
from volume.web import render_fault

log = logging.getLogger("brume.volume")

_ID = "[^/]+"
P = rf"/v3/(?P<project_id>{_ID})"


def _crud(kind: str, key: str, module, plural: str, with_update: bool = True) -> list:
    one = rf"{P}/{kind}/(?P<{key}>{_ID})"
    routes = [("GET", rf"{P}/{kind}", getattr(module, f"list_{plural}")),
              ("POST", rf"{P}/{kind}", module.create),
              ("GET", one, module.show),
              ("DELETE", one, module.delete)]
    if with_update:
        routes.append(("PUT", one, module.update))
    return routes


ROUTES = [
    ("GET", r"/", api_versions.root),
    ("GET", r"/v3", api_versions.v3),
    ("GET", rf"{P}/volumes/detail", api_volumes.list_volumes_detail),
    *_crud("volumes", "volume_id", api_volumes, "volumes"),
    ("POST", rf"{P}/volumes/(?P<volume_id>{_ID})/action", api_volumes.action),
    ("GET", rf"{P}/snapshots/detail", api_snapshots.list_snapshots_detail),
    *_crud("snapshots", "snapshot_id", api_snapshots, "snapshots"),
    ("GET", rf"{P}/backups/detail", api_backups.list_backups_detail),
    *_crud("backups", "backup_id", api_backups, "backups", with_update=False),
    ("POST", rf"{P}/backups/(?P<backup_id>{_ID})/restore", api_backups.restore),
    ("GET", rf"{P}/attachments/detail", api_attachments.list_attachments),
    *_crud("attachments", "attachment_id", api_attachments, "attachments"),
    ("POST", rf"{P}/attachments/(?P<attachment_id>{_ID})/action", api_attachments.action),
    ("GET", rf"{P}/os-quota-sets/(?P<target>{_ID})/defaults", api_quotas.defaults),
    ("GET", rf"{P}/os-quota-sets/(?P<target>{_ID})", api_quotas.show),
    ("PUT", rf"{P}/os-quota-sets/(?P<target>{_ID})", api_quotas.update),
    ("DELETE", rf"{P}/os-quota-sets/(?P<target>{_ID})", api_quotas.reset),
    ("GET", rf"{P}/limits", api_quotas.limits),
]
ROUTER = Router(ROUTES)
VERSION_HEADER = f"volume {api_versions.MAX_VERSION}"


class VolumeAPI:
    def __init__(self, service: VolumeService):
        self.service = service

    def __call__(self, environ, start_response):
        response = self.handle(Request(environ))
        response.headers["OpenStack-API-Version"] = VERSION_HEADER
        response.headers["Vary"] = "OpenStack-API-Version"
        return response(environ, start_response)

    def handle(self, req: Request):
        handler, args = ROUTER.match(req.method, request_path(req))
        try:
            return handler(self.service, req, **args)
        except sqlite3.IntegrityError:
            raise HTTPError(409, "The resource changed meanwhile; retry.") from None
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            log.warning("volume store busy: %s", exc)
            raise HTTPError(503, "The volume store is busy; retry.",
                            {"Retry-After": "1"}) from None


def wrap(service: VolumeService):
    app = error_middleware(VolumeAPI(service), render_fault, bug_log=log,
                           bug_message="Unexpected error in the volume service.")
    app.service = service  # for tests and tools that need the store
    return app


def make_app(conf_path: str):
    """The WSGI app for `[volume]` in `conf_path` (raises ConfigError when wrong)."""
    from common.green import eventlet

    service = VolumeService(load_volume_config(conf_path), eventlet.spawn_n, eventlet.sleep)
    service.recover()
    service.tokens.start(eventlet.spawn_n, eventlet.sleep)
    return wrap(service)
