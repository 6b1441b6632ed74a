"""How the quota middleware learns an account's or container's usage: a trusted HEAD.

The HEAD is a sub-request through the pipeline below (`proxy.subrequest`) that is always
authorized (the quota applies whoever writes: a user with only a write ACL may not read the
container, yet its quota must hold) and asks for the entity's sysmeta (`brume.sysmeta`).
It is not cached: the usage a quota is checked against is the storage servers' latest.
"""
from __future__ import annotations

from proxy.environ_keys import AUTHORIZE_KEY, SYSMETA_KEY
from proxy.quota_rules import Usage, stored_count
from proxy.responses import close_iter
from proxy.subrequest import allow_as_owner, call, make_environ


class EntityState:
    """An account's or container's HEAD: status, usage and (lower-case) headers."""

    def __init__(self, status: int, headers: dict[str, str], kind: str):
        self.status = status
        self.headers = headers
        self.usage = Usage(stored_count(headers.get(f"x-{kind}-bytes-used")),
                           stored_count(headers.get(f"x-{kind}-object-count")))

    @property
    def exists(self) -> bool:
        return 200 <= self.status < 300


def head_entity(app, environ, account: str, container: str | None = None) -> EntityState:
    """HEAD /v1/<account>[/<container>] through `app`, as a trusted sub-request."""
    path = f"/v1/{account}" + (f"/{container}" if container is not None else "")
    sub = make_environ(environ, "HEAD", path)
    sub[AUTHORIZE_KEY] = allow_as_owner
    sub[SYSMETA_KEY] = True
    response = call(app, sub)
    close_iter(response.app_iter)
    headers = {name.lower(): value for name, value in response.headers}
    return EntityState(response.status, headers, "container" if container else "account")
