"""The compute API's WSGI app (`[server] app = compute.api.app:make_app`, port 8774).

Routes requests to controllers, authenticates users by their `X-Auth-Token` checked locally
(`common.token_check`: a Keystone token of the identity service, or the proxy's Swift v1
token), refuses a `reader`'s changes (403), and authenticates agents with the service
signature. Controllers
abort with `common.http_errors.HTTPError`, answered as a Nova-shaped JSON fault
(`error_middleware` with `compute.nova_faults.render_nova_fault`); a bug is a logged
traceback and a `computeFault` 500, as Nova answers.
"""
from __future__ import annotations

import logging
import re
from functools import partial

from webob import Request

from common.http_errors import HTTPError, error_middleware
from common.token_check import TOKEN_CHECK_OPTIONS, TokenChecker
from compute.api import (
    consoles,
    flavors,
    hypervisors,
    instance_actions,
    interfaces,
    internal,
    keypairs,
    quota_sets,
    servers,
    tenant_usage,
    versions,
    volume_attachments,
)
from compute.api.context import Caller, Core
from compute.conductor import Conductor
from compute.config import load_api_config
from compute.db import Database
from compute.hosts import HostRepo
from compute.http_json import request_path
from compute.image_lookup import fetch_image
from compute.image_records import ImageRecords
from compute.instance_actions import request_id_of
from compute.lifecycle import Lifecycle
from compute.network_client import NetworkClient
from compute.nic_allocation import NicAllocator
from compute.nova_faults import render_nova_fault
from compute.quotas import QuotaRepo
from compute.repo import Repo
from compute.service_auth import API_TARGET, ServiceVerifier
from compute.volume_client import VolumeClient

LOG = logging.getLogger("brume.compute-api")

ID = r"([^/]+)"
# (method, path regex, handler, kind) — kind: "public" (no auth), "user", "service"
ROUTES = [
    ("GET", r"/", versions.root, "public"),
    ("GET", r"/v2\.1/?", versions.v21, "public"),
    ("GET", r"/v2\.1/flavors", flavors.index, "user"),
    ("POST", r"/v2\.1/flavors", flavors.create, "user"),
    ("GET", r"/v2\.1/flavors/detail", flavors.detail, "user"),
    ("GET", rf"/v2\.1/flavors/{ID}", flavors.show, "user"),
    ("DELETE", rf"/v2\.1/flavors/{ID}", flavors.delete, "user"),
    ("GET", r"/v2\.1/servers", servers.index, "user"),
    ("POST", r"/v2\.1/servers", servers.create, "user"),
    ("GET", r"/v2\.1/servers/detail", servers.detail, "user"),
    ("GET", rf"/v2\.1/servers/{ID}", servers.show, "user"),
    ("DELETE", rf"/v2\.1/servers/{ID}", servers.delete, "user"),
    ("POST", rf"/v2\.1/servers/{ID}/action", servers.action, "user"),
    ("GET", rf"/v2\.1/servers/{ID}/diagnostics", servers.diagnostics, "user"),
    ("POST", rf"/v2\.1/servers/{ID}/remote-consoles", consoles.create, "user"),
    ("GET", r"/console", consoles.connect, "public"),
    ("GET", rf"/v2\.1/servers/{ID}/os-instance-actions", instance_actions.index, "user"),
    ("GET", rf"/v2\.1/servers/{ID}/os-instance-actions/{ID}", instance_actions.show, "user"),
    ("GET", rf"/v2\.1/servers/{ID}/os-interface", interfaces.index, "user"),
    ("POST", rf"/v2\.1/servers/{ID}/os-interface", interfaces.attach, "user"),
    ("GET", rf"/v2\.1/servers/{ID}/os-interface/{ID}", interfaces.show, "user"),
    ("DELETE", rf"/v2\.1/servers/{ID}/os-interface/{ID}", interfaces.detach, "user"),
    ("GET", rf"/v2\.1/servers/{ID}/os-volume_attachments", volume_attachments.index, "user"),
    ("POST", rf"/v2\.1/servers/{ID}/os-volume_attachments", volume_attachments.attach,
     "user"),
    ("GET", rf"/v2\.1/servers/{ID}/os-volume_attachments/{ID}", volume_attachments.show,
     "user"),
    ("DELETE", rf"/v2\.1/servers/{ID}/os-volume_attachments/{ID}", volume_attachments.detach,
     "user"),
    ("GET", r"/v2\.1/os-keypairs", keypairs.index, "user"),
    ("POST", r"/v2\.1/os-keypairs", keypairs.create, "user"),
    ("GET", rf"/v2\.1/os-keypairs/{ID}", keypairs.show, "user"),
    ("DELETE", rf"/v2\.1/os-keypairs/{ID}", keypairs.delete, "user"),
    ("GET", r"/v2\.1/os-hypervisors", hypervisors.index, "user"),
    ("GET", r"/v2\.1/os-hypervisors/detail", hypervisors.detail, "user"),
    ("GET", rf"/v2\.1/os-hypervisors/{ID}", hypervisors.show, "user"),
    ("GET", rf"/v2\.1/os-hypervisors/{ID}/uptime", hypervisors.uptime, "user"),
    ("GET", r"/v2\.1/os-services", hypervisors.services, "user"),
    ("PUT", rf"/v2\.1/os-services/{ID}", hypervisors.update_service, "user"),
    ("GET", rf"/v2\.1/os-quota-sets/{ID}", quota_sets.show, "user"),
    ("GET", rf"/v2\.1/os-quota-sets/{ID}/defaults", quota_sets.defaults, "user"),
    ("PUT", rf"/v2\.1/os-quota-sets/{ID}", quota_sets.update, "user"),
    ("GET", r"/v2\.1/os-simple-tenant-usage", tenant_usage.index, "user"),
    ("GET", rf"/v2\.1/os-simple-tenant-usage/{ID}", tenant_usage.show, "user"),
    ("PUT", rf"/internal/v1/hosts/{ID}", internal.heartbeat, "service"),
    ("POST", rf"/internal/v1/servers/{ID}/events", internal.event, "service"),
]
COMPILED = [(m, re.compile("^" + p + "$"), h, k) for m, p, h, k in ROUTES]


class ComputeAPI:
    """The WSGI application."""

    def __init__(self, core: Core):
        self.core = core
        self._wsgi = error_middleware(self._serve, render_nova_fault, bug_log=LOG,
                                      bug_message="Unexpected API Error. Please report this.")

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _serve(self, environ, start_response):
        response = self.dispatch(Request(environ))
        request_id = request_id_of(environ)  # the instance action's key, as in Nova
        response.headers["X-OpenStack-Request-ID"] = request_id
        response.headers["X-Compute-Request-ID"] = request_id
        return response(environ, start_response)

    def authenticate(self, request) -> Caller:
        requester = self.core.tokens.requester(request.headers.get("X-Auth-Token"))
        if requester is None:
            raise HTTPError(401, "Authentication required: missing, bad or expired token.")
        caller = Caller(project_id=requester.project_id, user_id=requester.user_id,
                        roles=requester.roles)
        if request.method not in ("GET", "HEAD") and not caller.can_write:
            raise HTTPError(403, "Policy doesn't allow this operation to be performed.")
        return caller

    def dispatch(self, request):
        path = request_path(request)
        methods = set()
        for method, pattern, handler, kind in COMPILED:
            match = pattern.match(path)
            if match is None:
                continue
            methods.add(method)
            if method != request.method:
                continue
            args = match.groups()
            if kind == "public":
                return handler(self.core, request, *args)
            if kind == "service":
                return handler(self.core, request, *args)
            caller = self.authenticate(request)
            return handler(self.core, caller, request, *args)
        if methods:
            raise HTTPError(405, f"Method {request.method} not allowed here.")
        raise HTTPError(404, "The resource could not be found.")


def build_core(conf: dict, spawn) -> Core:
    db = Database(conf["db_path"])
    repo = Repo(db)
    repo.ensure_default_flavors()
    hosts = HostRepo(db)
    quotas = QuotaRepo(db, {
        "instances": conf["default_quota_instances"],
        "cores": conf["default_quota_cores"],
        "ram": conf["default_quota_ram"],
    })
    conductor = Conductor(db, repo, hosts, conf, spawn)
    fetch = partial(_fetch, conf)
    verifier = ServiceVerifier(conf["service_secret"], API_TARGET)
    token_options = {option.name: conf.get(option.name, option.default)
                     for option in TOKEN_CHECK_OPTIONS}
    tokens = TokenChecker.from_values(token_options, conf["token_secret"], "[compute-api]")
    network = NetworkClient(conf["network_url"], conf["network_timeout"]) \
        if conf["network_url"] else None
    volumes = VolumeClient(conf["volume_url"], conf["volume_timeout"]) \
        if conf["volume_url"] else None
    images = ImageRecords(conf["image_url"], conf["image_timeout"])
    return Core(conf=conf, db=db, repo=repo, hosts=hosts, quotas=quotas, conductor=conductor,
                fetch_image=fetch, service_verifier=verifier, tokens=tokens,
                nics=NicAllocator(network), volumes=volumes, images=images,
                lifecycle=Lifecycle(conductor, images))


def _fetch(conf: dict, image_id: str, token: str) -> dict:
    return fetch_image(conf["image_url"], image_id, token, conf["image_timeout"])


def make_app(conf_path: str):
    from common.green import eventlet

    conf = load_api_config(conf_path)
    core = build_core(conf, eventlet.spawn_n)
    core.conductor.resume_after_restart()
    core.lifecycle.recover_interrupted()
    core.tokens.start(eventlet.spawn_n, eventlet.sleep)
    eventlet.spawn_n(core.conductor.monitor_loop, eventlet.sleep)
    return ComputeAPI(core)
