"""The network service's WSGI app (`[server] app = network.app:make_app`, port 9696).

Routes `/`, `/v2.0/...` requests to their handlers (`network.api_*`); handlers raise
`HTTPError`s (`network.errors.NeutronError`), rendered in Neutron's error shape by
`common.http_errors.error_middleware`; a write that lost a race in the store is a 409, a
store locked too long a 503. `make_app` loads the config, opens the store, starts the
revocation poller (a green thread, when `revocation_url` is set) and returns the app.
"""
from __future__ import annotations

import logging
import sqlite3

from webob import Request

from common.http_errors import error_middleware
from common.routes import Router, request_path
from network import (
    api_floatingips,
    api_networks,
    api_ports,
    api_security_groups,
    api_subnets,
    api_versions,
)
from network.config import load_network_config
from network.errors import NeutronError, neutron_renderer
from network.service import NetworkService

_ID = "[^/]+"


def _crud(collection: str, key: str, module, name: str, plural: str) -> list:
    base = f"/v2.0/{collection}"
    one = rf"{base}/(?P<{key}>{_ID})"
    return [("GET", base, getattr(module, f"list_{plural}")),
            ("POST", base, getattr(module, f"create_{name}")),
            ("GET", one, getattr(module, f"show_{name}")),
            ("PUT", one, getattr(module, f"update_{name}")),
            ("DELETE", one, getattr(module, f"delete_{name}"))]


ROUTES = [
    ("GET", r"/", api_versions.root),
    ("GET", r"/v2.0", api_versions.v2),
    ("GET", r"/v2.0/extensions", api_versions.list_extensions),
    ("GET", rf"/v2.0/extensions/(?P<alias>{_ID})", api_versions.show_extension),
    *_crud("networks", "network_id", api_networks, "network", "networks"),
    *_crud("subnets", "subnet_id", api_subnets, "subnet", "subnets"),
    *_crud("ports", "port_id", api_ports, "port", "ports"),
    *_crud("security-groups", "group_id", api_security_groups, "group", "groups"),
    ("GET", r"/v2.0/security-group-rules", api_security_groups.list_rules),
    ("POST", r"/v2.0/security-group-rules", api_security_groups.create_rule),
    ("GET", rf"/v2.0/security-group-rules/(?P<rule_id>{_ID})", api_security_groups.show_rule),
    ("DELETE", rf"/v2.0/security-group-rules/(?P<rule_id>{_ID})",
     api_security_groups.delete_rule),
    *_crud("floatingips", "fip_id", api_floatingips, "floatingip", "floatingips"),
]
log = logging.getLogger("brume.network")

ROUTER = Router((method, pattern.replace("/v2.0", r"/v2\.0"), handler)
                for method, pattern, handler in ROUTES)


class NetworkAPI:
    def __init__(self, service: NetworkService):
        self.service = service

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, req: Request):
        path = request_path(req)
        if path.endswith(".json"):
            path = path[:-5]
        handler, args = ROUTER.match(req.method, path)
        return self.dispatch(handler, req, args)

    def dispatch(self, handler, req: Request, args: dict):
        try:
            return handler(self.service, req, **args)
        except sqlite3.IntegrityError:
            # A concurrent change removed what this write refers to: it changed nothing.
            raise NeutronError(409, "Conflict",
                               "The resource changed meanwhile; retry.") from None
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            log.warning("network store busy: %s", exc)
            raise NeutronError(503, "ServiceUnavailable", "The network store is busy; retry.",
                               {"Retry-After": "1"}) from None


def make_app(conf_path: str):
    """The WSGI app for `[network]` in `conf_path` (raises ConfigError when wrong)."""
    service = NetworkService(load_network_config(conf_path))
    from common.green import eventlet

    service.tokens.start(eventlet.spawn_n, eventlet.sleep)
    app = NetworkAPI(service)
    wrapped = error_middleware(app, neutron_renderer(service.config.auth_url))
    wrapped.service = service  # for tests and tools that need the store
    return wrapped
