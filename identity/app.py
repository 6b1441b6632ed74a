"""The identity service's WSGI app (`[server] app = identity.app:make_app`, port 5000).

Routes every `/`, `/v3/...` request to its handler (`identity.api_*`); handlers raise
`HTTPError`, rendered in Keystone's error shape by `common.http_errors.error_middleware`;
a write that lost a race in the store is a 409, a store locked too long a 503.
`make_app` loads the config, opens the store, runs the bootstrap and returns the app.
"""
from __future__ import annotations

import logging
import sqlite3

from webob import Request

from common.http_errors import HTTPError, error_middleware
from common.routes import Router, request_path
from identity import (
    api_app_creds,
    api_auth,
    api_catalog,
    api_domains,
    api_projects,
    api_revoke,
    api_roles,
    api_users,
    api_versions,
)
from identity.bootstrap import bootstrap
from identity.config import load_identity_config
from identity.service import IdentityService
from identity.web import keystone_renderer

_ID = "[^/]+"
_GRANT = (rf"/v3/(?P<targets>projects|domains)/(?P<target_id>{_ID})/users/"
          rf"(?P<user_id>{_ID})/roles")
ROUTES = [
    ("GET", r"/", api_versions.root),
    ("GET", r"/v3", api_versions.v3),
    ("POST", r"/v3/auth/tokens", api_auth.issue_token),
    ("GET", r"/v3/auth/tokens", api_auth.validate_token),
    ("HEAD", r"/v3/auth/tokens", api_auth.check_token),
    ("DELETE", r"/v3/auth/tokens", api_auth.revoke_token),
    ("GET", r"/v3/auth/catalog", api_auth.auth_catalog),
    ("GET", r"/v3/auth/projects", api_auth.auth_projects),
    ("GET", r"/v3/auth/domains", api_auth.auth_domains),
    ("GET", r"/v3/domains", api_domains.list_domains),
    ("POST", r"/v3/domains", api_domains.create_domain),
    ("GET", rf"/v3/domains/(?P<domain_id>{_ID})", api_domains.show_domain),
    ("PATCH", rf"/v3/domains/(?P<domain_id>{_ID})", api_domains.update_domain),
    ("DELETE", rf"/v3/domains/(?P<domain_id>{_ID})", api_domains.delete_domain),
    ("GET", r"/v3/projects", api_projects.list_projects),
    ("POST", r"/v3/projects", api_projects.create_project),
    ("GET", rf"/v3/projects/(?P<project_id>{_ID})", api_projects.show_project),
    ("PATCH", rf"/v3/projects/(?P<project_id>{_ID})", api_projects.update_project),
    ("DELETE", rf"/v3/projects/(?P<project_id>{_ID})", api_projects.delete_project),
    ("GET", r"/v3/users", api_users.list_users),
    ("POST", r"/v3/users", api_users.create_user),
    ("GET", rf"/v3/users/(?P<user_id>{_ID})", api_users.show_user),
    ("PATCH", rf"/v3/users/(?P<user_id>{_ID})", api_users.update_user),
    ("DELETE", rf"/v3/users/(?P<user_id>{_ID})", api_users.delete_user),
    ("POST", rf"/v3/users/(?P<user_id>{_ID})/password", api_users.change_password),
    ("GET", rf"/v3/users/(?P<user_id>{_ID})/projects", api_projects.user_projects),
    ("GET", rf"/v3/users/(?P<user_id>{_ID})/application_credentials",
     api_app_creds.list_app_creds),
    ("POST", rf"/v3/users/(?P<user_id>{_ID})/application_credentials",
     api_app_creds.create_app_cred),
    ("GET", rf"/v3/users/(?P<user_id>{_ID})/application_credentials/(?P<cred_id>{_ID})",
     api_app_creds.show_app_cred),
    ("DELETE", rf"/v3/users/(?P<user_id>{_ID})/application_credentials/(?P<cred_id>{_ID})",
     api_app_creds.delete_app_cred),
    ("GET", r"/v3/roles", api_roles.list_roles),
    ("POST", r"/v3/roles", api_roles.create_role),
    ("GET", rf"/v3/roles/(?P<role_id>{_ID})", api_roles.show_role),
    ("PATCH", rf"/v3/roles/(?P<role_id>{_ID})", api_roles.update_role),
    ("DELETE", rf"/v3/roles/(?P<role_id>{_ID})", api_roles.delete_role),
    ("GET", _GRANT, api_roles.list_grants),
    ("PUT", rf"{_GRANT}/(?P<role_id>{_ID})", api_roles.put_grant),
    ("HEAD", rf"{_GRANT}/(?P<role_id>{_ID})", api_roles.check_grant),
    ("GET", rf"{_GRANT}/(?P<role_id>{_ID})", api_roles.check_grant),
    ("DELETE", rf"{_GRANT}/(?P<role_id>{_ID})", api_roles.delete_grant),
    ("GET", r"/v3/role_assignments", api_roles.list_role_assignments),
    ("GET", r"/v3/OS-REVOKE/events", api_revoke.list_events),
    ("GET", r"/v3/services", api_catalog.list_services),
    ("GET", rf"/v3/services/(?P<service_id>{_ID})", api_catalog.show_service),
    ("GET", r"/v3/endpoints", api_catalog.list_endpoints),
    ("GET", rf"/v3/endpoints/(?P<endpoint_id>{_ID})", api_catalog.show_endpoint),
    ("GET", r"/v3/regions", api_catalog.list_regions),
    ("GET", rf"/v3/regions/(?P<region_id>{_ID})", api_catalog.show_region),
]
log = logging.getLogger("brume.identity")

ROUTER = Router(ROUTES)


class IdentityAPI:
    def __init__(self, service: IdentityService):
        self.service = service

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, req: Request):
        handler, args = ROUTER.match(req.method, request_path(req))
        return self.dispatch(handler, req, args)

    def dispatch(self, handler, req: Request, args: dict):
        try:
            return handler(self.service, req, **args)
        except sqlite3.IntegrityError:
            # A concurrent change removed what this write refers to (a user deleted while
            # granted a role): the write changed nothing.
            raise HTTPError(409, "Conflict: the resource changed meanwhile; retry.") from None
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            log.warning("identity store busy: %s", exc)
            raise HTTPError(503, "The identity store is busy; retry.",
                            {"Retry-After": "1"}) from None


def make_app(conf_path: str):
    """The WSGI app for `[identity]` in `conf_path` (raises ConfigError when wrong)."""
    service = IdentityService(load_identity_config(conf_path))
    bootstrap(service)
    service.tokens.prune_revocations()
    app = IdentityAPI(service)
    wrapped = error_middleware(app, keystone_renderer(service.base))
    wrapped.service = service  # for tests and tools that need the store
    return wrapped
