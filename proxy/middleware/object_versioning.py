"""`object_versioning`: every write of an object in a versioned container is kept.

    [filter:object_versioning]
    use = egg:brume#object_versioning

A container is versioned with `X-Versions-Enabled: true` (PUT/POST; `false` suspends it).
Each PUT then stores the object as a new version in the container's hidden versions
container and leaves a *pointer* in the container itself (`version_names`); each DELETE
stores a delete marker as the newest version and removes the pointer. Responses name the
version with `X-Object-Version-Id`. `?version-id=<id>` reads (GET/HEAD), deletes, restores
(PUT with an empty body makes that version the latest again) or updates (POST) one version;
only the account's owners may use it (a temporary URL's version-id is ignored: it reaches
the latest version). `?versions` lists every version of a container
(`version_listing`). Objects written while versioning is off are the `null` version; they are
kept as a version when a versioned write replaces them. A versioned container can only be
deleted once it has no versions left; account listings never show the hidden containers.

Requests for a version are made below this filter as the requesting user, except that the
user's authorize callback is told that the hidden versions container of the container being
served is allowed (the user was authorized on that container first).

This module is the filter itself: routing, sub-requests, the cached container state and the
account listings. Container requests are served by `versioned_containers`, object requests
by `versioned_objects`.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode

from common.config import load_options
from common.truth import is_true
from proxy.environ_keys import (
    AUTHORIZE_KEY,
    OWNER_KEY,
    SYSMETA_KEY,
)
from proxy.middleware.version_names import (
    HIDDEN_MARK,
    PAST_HIDDEN,
    is_hidden_container,
    versions_container,
)
from proxy.middleware.version_state import ContainerState, header_map
from proxy.middleware.versioned_containers import VersionedContainers
from proxy.middleware.versioned_objects import VersionedObjects
from proxy.responses import close_iter, error
from proxy.subrequest import allow_as_owner, call, make_environ
from proxy.target import Target, parse_target

CONTAINER_INFO_TTL = 5.0


class ObjectVersioning:
    capabilities = {"object_versioning": {}}

    def __init__(self, app):
        self.app = app
        self._containers: dict[tuple, tuple[float, ContainerState]] = {}
        self.containers = VersionedContainers(self)
        self.objects = VersionedObjects(self)

    # ---- routing -------------------------------------------------------------------

    def __call__(self, environ, start_response):
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if reason or target is None:
            return self.app(environ, start_response)
        response = self.route(environ, target)
        if response is None:
            return self.app(environ, start_response)
        return response(environ, start_response)

    def route(self, environ, target: Target):
        """The answer of this filter, or None to pass the request on unchanged."""
        if is_hidden_container(target.container):
            return error(400, "container names starting with a control character are "
                              "reserved")
        method = environ.get("REQUEST_METHOD")
        if target.container is None:
            if method == "GET":
                self._hide_versions_containers(environ)
            return None
        if target.obj is None:
            return self.containers.request(environ, target, method)
        return self.objects.request(environ, target, method)

    # ---- sub-requests ------------------------------------------------------------------

    def versions_authorizer(self, environ, target: Target):
        """The user's authorize callback, with the hidden versions container allowed."""
        user_authorize = environ.get(AUTHORIZE_KEY)
        hidden = versions_container(target.container)
        account = target.account

        def authorize(env, method, sub_target, container_info, account_info=None):
            if sub_target.account == account and sub_target.container == hidden:
                env[OWNER_KEY] = bool(environ.get(OWNER_KEY))
                return None
            if user_authorize is None:
                return error(401, "unauthorized")
            return user_authorize(env, method, sub_target, container_info, account_info)

        return authorize

    def sub(self, environ, target, method, path, headers=None, query="", body_input=None,
             content_length=None, internal=False, sysmeta=False, trusted=False):
        env = make_environ(environ, method, path, headers, query, body_input, content_length,
                           internal)
        env[AUTHORIZE_KEY] = (allow_as_owner if trusted
                              else self.versions_authorizer(environ, target))
        if sysmeta:
            env[SYSMETA_KEY] = True
        return call(self.app, env)

    def container_state(self, environ, account: str, container: str,
                        fresh: bool = False) -> ContainerState:
        key = (account, container)
        cached = self._containers.get(key)
        if cached is not None and not fresh and cached[0] > time.monotonic():
            return cached[1]
        response = self.sub(environ, None, "HEAD", f"/v1/{account}/{container}",
                            sysmeta=True, trusted=True)
        close_iter(response.app_iter)
        state = ContainerState(response.status, header_map(response))
        if state.exists:
            if len(self._containers) > 10000:
                self._containers.clear()
            self._containers[key] = (time.monotonic() + CONTAINER_INFO_TTL, state)
        else:
            self.forget_container(account, container)
        return state

    def forget_container(self, account: str, container: str) -> None:
        """Drop a container's cached state (its versioning was just changed or it is gone)."""
        self._containers.pop((account, container), None)

    def authorize(self, environ, method: str, target: Target, state: ContainerState):
        """None when the user may `method` the target, else the denial."""
        authorize = environ.get(AUTHORIZE_KEY)
        if authorize is None:
            return error(401, "unauthorized")
        return authorize(environ, method, target, state.entity)

    # ---- accounts ----------------------------------------------------------------------

    @staticmethod
    def _hide_versions_containers(environ) -> None:
        """Rewrite an account listing's query so that it skips the hidden containers."""
        query = environ.get("QUERY_STRING", "")
        try:
            params = parse_qs(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return
        if params.get("prefix", [""])[0].startswith(HIDDEN_MARK):
            params["prefix"] = [PAST_HIDDEN]  # lists nothing
        reverse = is_true(params.get("reverse", [""])[0])
        bound = "end_marker" if reverse else "marker"
        if params.get(bound, [""])[0] < PAST_HIDDEN:
            params[bound] = [PAST_HIDDEN]
        environ["QUERY_STRING"] = urlencode(
            [(key, value) for key, values in params.items() for value in values])


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:object_versioning"), [],
                 global_conf.get("__file__", "<config>"))
    return ObjectVersioning
