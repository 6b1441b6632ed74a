"""The proxy's WSGI application, the last stage of the pipeline: route every request.

    [app:proxy-server]
    use = egg:brume#proxy

Routes: `/info`, `/recon/cluster` (the storage cluster's health for a reseller admin,
`proxy.cluster_health`) and `/v1/<account>[/<container>[/<object>]]`, which is name-checked,
authorized and handed to the account, container or object controller. Authentication, large
objects, COPY, transaction ids and `/healthcheck` are middleware above it (`proxy.pipeline`,
`proxy.middleware`). Authorization follows Swift's tempauth: the auth middleware leaves a
callback in the environ (`brume.authorize`) that the app calls with a way to fetch the
container's ACLs (fetched only when the decision needs them); a request without that
callback is refused (OPTIONS aside), so a pipeline without auth is closed, not open. The
callback can also fetch the account's info (its account ACL, `proxy.account_acl`).
A middleware's metadata lookup (`proxy.metadata_lookup`) is answered from the info cache.
"""
from __future__ import annotations

import functools

from webob import Request

from common import constraints
from common.backend_auth import load_backend_auth
from common.storage_policies import BACKEND_INDEX_HEADER, StoragePolicy, load_policies
from proxy import (
    account_controller,
    cluster_health,
    container_controller,
    info,
    metadata_lookup,
    object_controller,
    pipeline,
)
from proxy.backend_client import BackendClient
from proxy.environ_keys import AUTHORIZE_KEY, METADATA_LOOKUP_KEY, OWNER_KEY
from proxy.info_cache import InfoCache
from proxy.responses import empty, error
from proxy.settings import ProxySettings, load_proxy_settings
from proxy.target import Target, parse_target

# {addresses an object: the methods it allows}, as answered to OPTIONS.
ALLOWED_METHODS = {False: "HEAD, GET, PUT, POST, OPTIONS, DELETE",
                   True: "HEAD, GET, PUT, POST, OPTIONS, DELETE, COPY"}


class ProxyApp:
    """Shared state (rings, backend client, caches) and the request router."""

    def __init__(self, settings: ProxySettings, rings: dict | None = None):
        self.settings = settings
        proxy = settings.proxy
        if rings is None:
            from ring.ring import Ring

            rings = {name: Ring(settings.conf_dir, name)
                     for name in ("account", "container", "object")}
        self.account_ring = rings["account"]
        self.container_ring = rings["container"]
        self.object_ring = rings["object"]
        self.policies = load_policies(settings.conf_dir)
        self.object_rings = {policy.index: self._object_ring(rings, policy)
                             for policy in self.policies}
        self.client = BackendClient(
            proxy["conn_timeout"],
            proxy["node_timeout"],
            proxy["error_suppression_limit"],
            proxy["error_suppression_interval"],
            proxy["max_idle_connections"],
            auth=load_backend_auth(settings.conf_dir),
        )
        self.info_cache = InfoCache(
            self.client,
            self.account_ring,
            self.container_ring,
            proxy["recheck_account_existence"],
            proxy["recheck_container_existence"],
        )
        self.chunk_size = proxy["object_chunk_size"]
        self.put_queue_depth = proxy["put_queue_depth"]
        self.account_autocreate = proxy["account_autocreate"]
        self.capabilities = info.Capabilities()
        self.capabilities.register("swift", {"policies": [p.info() for p in self.policies]})

    def _object_ring(self, rings: dict, policy: StoragePolicy):
        if policy.index == 0:
            return rings["object"]
        found = rings.get(policy.ring_name)
        if found is None:
            from ring.ring import Ring

            found = Ring(self.settings.conf_dir, policy.ring_name)
        return found

    def object_placement(self, account: str, container: str):
        """(policy, its object ring) of a container's objects: the policy index its
        replicas keep (`proxy.info_cache`), policy 0 when the container does not exist (no
        object of it can then), (None, None) when its servers could not say."""
        info = self.info_cache.container(account, container)
        if not info.exists and info.status != 404:
            return None, None  # the container servers did not answer: the policy is unknown
        policy = None
        if info.exists:
            policy = self.policies.index_of_header(info.headers.get(BACKEND_INDEX_HEADER.lower()))
        if policy is None:
            policy = self.policies.index_of_header(None)
        return policy, self.object_rings[policy.index]

    def register_capabilities(self, name: str, settings: dict) -> None:
        """What a middleware of the pipeline adds to `/info` (`proxy.pipeline`)."""
        self.capabilities.register(name, settings)

    def __call__(self, environ, start_response):
        return self.handle(environ)(environ, start_response)

    def handle(self, environ):
        path = environ.get("PATH_INFO", "")
        if path == "/info" or path == "/info/":
            return info.handle_info(self.capabilities, environ)
        if path == cluster_health.PATH:
            return cluster_health.handle(self, environ)
        version, target, reason = parse_target(path)
        if reason:
            return error(412, reason)
        if target is None:
            return error(404, "not found")
        reason = self._check_names(target)
        if reason:
            return error(400, reason)
        if environ.get(METADATA_LOOKUP_KEY):
            return metadata_lookup.answer(self.info_cache, target)
        denial = self._authorize(environ, environ["REQUEST_METHOD"], target)
        if denial is not None:
            return denial
        if environ["REQUEST_METHOD"] == "OPTIONS":
            # A browser's preflight is the cors filter's; a plain OPTIONS lists the methods.
            return empty(200, [("Allow", ALLOWED_METHODS[target.obj is not None])])
        req = Request(environ)
        if target.obj is not None:
            return object_controller.handle(self, req, target)
        if target.container is not None:
            return container_controller.handle(self, req, target)
        return account_controller.handle(self, req, target)

    @staticmethod
    def _check_names(target: Target) -> str | None:
        return name_problem(target.account, target.container, target.obj)

    def _authorize(self, environ, method: str, target: Target):
        """None when allowed, else the denial (a response) of the auth middleware's callback."""
        authorize = environ.get(AUTHORIZE_KEY)
        if authorize is None:
            return None if method == "OPTIONS" else error(401, "unauthorized")

        def container_info():
            return self.info_cache.container(target.account, target.container)

        def account_info():
            return self.info_cache.account(target.account)

        return authorize(environ, method, target, container_info, account_info)

    @staticmethod
    def is_owner(environ, account: str) -> bool:
        """Whether the authorize callback found the caller owns the account it addresses."""
        return bool(environ.get(OWNER_KEY))


@functools.lru_cache(maxsize=1024)
def name_problem(account: str, container: str | None, obj: str | None) -> str | None:
    """Why these names break Swift's constraints (None when they do not); memoized, as
    the constraints are fixed and a hot object's path comes back on every request."""
    reason = constraints.check_account_name(account)
    if reason is None and container is not None:
        reason = constraints.check_container_name(container)
    if reason is None and obj is not None:
        reason = constraints.check_object_name(obj)
    return reason


def app_factory(global_conf: dict, **local_conf):
    """`use = egg:brume#proxy`: the app from its section's options (rings: for tests)."""
    return ProxyApp(load_proxy_settings(global_conf, local_conf), global_conf.get("rings"))


def make_app(conf_path: str, rings: dict | None = None):
    """The whole pipeline of `conf_path` (as `proxy.pipeline.make_app`; older configs name
    `[server] app = proxy.server:make_app`)."""
    return pipeline.make_app(conf_path, rings)
