"""The secret keys that sign temporary URLs and form POSTs, read from account and container.

An account owner sets `X-Account-Meta-Temp-URL-Key` (and `-2`, to rotate keys without
breaking URLs already handed out); a container owner may set `X-Container-Meta-Temp-URL-Key`
(and `-2`). A signature made with an account key may reach anything in the account's reach
(`ACCOUNT_SCOPE`), one made with a container key only that container (`CONTAINER_SCOPE`).

The keys are read with HEAD sub-requests through the rest of the pipeline, authorized as
the account's owner for exactly that HEAD (the key headers are only shown to owners), with
`brume.authorize_override` set so an auth filter below leaves the decision alone.
"""
from __future__ import annotations

from proxy import subrequest
from proxy.environ_keys import (
    AUTHORIZE_KEY,
    AUTHORIZE_OVERRIDE_KEY,
    IDENTITY_KEY,
    OWNER_KEY,
)
from proxy.responses import close_iter, error
from proxy.target import Target

ACCOUNT_SCOPE = "account"
CONTAINER_SCOPE = "container"
ACCOUNT_KEY_HEADERS = ("X-Account-Meta-Temp-Url-Key", "X-Account-Meta-Temp-Url-Key-2")
CONTAINER_KEY_HEADERS = ("X-Container-Meta-Temp-Url-Key", "X-Container-Meta-Temp-Url-Key-2")


def keys_in(response, header_names, scope: str) -> list[tuple[bytes, str]]:
    """The non-empty key headers of a 2xx answer, as (key bytes, scope) pairs."""
    if not 200 <= response.status < 300:
        return []
    found = []
    for name in header_names:
        value = response.header(name)
        if value:
            found.append((_header_bytes(value), scope))
    return found


def _header_bytes(value: str) -> bytes:
    """A WSGI header value's bytes (WSGI carries them as latin-1 text; UTF-8 keys too)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def lookup_keys(app, parent_environ, target: Target) -> list[tuple[bytes, str]]:
    """Account keys, then the container's (when `target` names a container)."""
    keys = _read_keys(app, parent_environ, Target(target.account, None, None),
                      ACCOUNT_KEY_HEADERS, ACCOUNT_SCOPE)
    if target.container is not None:
        keys += _read_keys(app, parent_environ, Target(target.account, target.container, None),
                           CONTAINER_KEY_HEADERS, CONTAINER_SCOPE)
    return keys


def _read_keys(app, parent_environ, entity: Target, header_names, scope: str):
    environ = subrequest.make_environ(parent_environ, "HEAD", "/v1" + entity.path)
    environ[IDENTITY_KEY] = None
    environ[AUTHORIZE_KEY] = _owner_head_of(entity.path)
    environ[AUTHORIZE_OVERRIDE_KEY] = True
    response = subrequest.call(app, environ)
    close_iter(response.app_iter)
    return keys_in(response, header_names, scope)


def _owner_head_of(path: str):
    """An authorize callback allowing a HEAD of `path` as its owner, and nothing else."""

    def authorize(environ, method, target, container_info, account_info=None):
        if method == "HEAD" and target.path == path:
            environ[OWNER_KEY] = True
            return None
        environ[OWNER_KEY] = False
        return error(401, "unauthorized")

    return authorize
