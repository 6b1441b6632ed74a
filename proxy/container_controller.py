"""Container requests: listings (GET/HEAD), create (PUT), metadata and ACLs (POST), DELETE.

PUT creates the account first when it is missing and `account_autocreate` is on. Every
write goes to all container replicas at once; replica i is told the i-th account replica to
report its stats to (`X-Account-Host/-Device/-Partition`). ACL headers are validated and
normalised here (`proxy.acl.clean_acl`); only owners get to see them in HEAD/GET answers, and
only owners set them (a `read-write` account ACL grantee's are ignored, as in Swift). A PUT
chooses the container's storage policy (`X-Storage-Policy`, a name or alias of
`common.storage_policies`; unknown: 400; another than an existing container's: 409 from its
servers); HEAD/GET show it by name.
"""
from __future__ import annotations

import math
from email.utils import formatdate

from common import constraints
from common.storage_policies import BACKEND_INDEX_HEADER
from common.timestamp import Timestamp
from proxy import account_controller
from proxy.acl import READ_HEADER, WRITE_HEADER, AclError, clean_acl
from proxy.listing import check_listing_query, forward_read, meta_headers
from proxy.quorum import choose_status, fan_out, quorum_size
from proxy.responses import OWNER_ONLY_HEADERS, OWNER_ONLY_PREFIXES, empty, error

ACL_HEADERS = (READ_HEADER, WRITE_HEADER)
POLICY_INDEX_KEY = BACKEND_INDEX_HEADER.lower()
POLICY_DEFAULT_HEADER = "X-Backend-Storage-Policy-Default"
# Stored with the container metadata besides X-Container-Meta-* (owners only).
EXTRA_HEADERS = ACL_HEADERS + ("x-container-sync-key", "x-container-sync-to")


def handle(app, req, target):
    method = req.method
    environ = req.environ
    if method in ("GET", "HEAD"):
        return read(app, environ, target)
    if method in ("PUT", "POST"):
        return write(app, environ, target, method)
    if method == "DELETE":
        return delete(app, environ, target)
    return error(405, f"method {method} not allowed on containers",
                 [("Allow", "GET, HEAD, PUT, POST, DELETE")])


def read(app, environ, target):
    reason = check_listing_query(environ.get("QUERY_STRING", ""),
                                 constraints.CONTAINER_LISTING_LIMIT)
    if reason:
        return error(412, reason)
    ring = app.container_ring
    part, nodes = ring.get_nodes(target.account, target.container)
    drop_acls = not app.is_owner(environ, target.account)

    def policy_name(backend_headers: dict) -> list:
        policy = app.policies.index_of_header(backend_headers.get(POLICY_INDEX_KEY))
        return [("X-Storage-Policy", policy.name)] if policy is not None else []

    response, status = forward_read(app, environ, ring, part, nodes, target.path, drop_acls,
                                    policy_name)
    if response is None:
        return error(status)
    put_timestamp = response.header("X-Put-Timestamp")
    if put_timestamp and response.header("Last-Modified") is None:
        try:  # as Swift: when the container was last created or changed
            seconds = math.ceil(float(put_timestamp))
        except ValueError:
            return response
        response.headers.append(("Last-Modified", formatdate(seconds, usegmt=True)))
    return response


def _write_headers(environ, owner: bool):
    picked, reason = meta_headers(environ, "container", EXTRA_HEADERS)
    if reason:
        return None, reason
    if not owner:
        picked = {name: value for name, value in picked.items()
                  if name not in OWNER_ONLY_HEADERS and not name.startswith(OWNER_ONLY_PREFIXES)}
    for name in ACL_HEADERS:
        if name in picked:
            try:
                picked[name] = clean_acl(name, picked[name])
            except AclError as exc:
                return None, str(exc)
    return picked, None


def write(app, environ, target, method: str):
    picked, reason = _write_headers(environ, app.is_owner(environ, target.account))
    if picked is None:
        return error(400, reason)
    if method == "PUT":
        problem = account_controller.ensure_account(app, environ, target.account,
                                                    create=app.account_autocreate)
        if problem is not None:
            return problem
    backend = {"X-Timestamp": Timestamp.now().normal}
    backend.update(picked)
    if method == "PUT":
        reason = _choose_policy(app, environ, backend)
        if reason:
            return error(400, reason)
    ring = app.container_ring
    part, nodes = ring.get_nodes(target.account, target.container)
    headers_for_slot = _slot_headers(app, target.account, backend)
    answers = fan_out(app.client, app.client.iter_nodes(ring, part, nodes), len(nodes), part,
                      method, target.path, headers_for_slot)
    app.info_cache.invalidate(target.account, target.container)
    app.info_cache.invalidate(target.account)
    status = choose_status([a.status for a in answers], quorum_size(len(nodes)))
    if 200 <= status < 300:
        return empty(status if method == "PUT" else 204)
    return error(status)


def _choose_policy(app, environ, backend: dict) -> str | None:
    """Name the container's storage policy to its servers: the one `X-Storage-Policy` names,
    else only the default (an existing container keeps its own). A reason when unknown."""
    name = environ.get("HTTP_X_STORAGE_POLICY", "").strip()
    if not name:
        backend[POLICY_DEFAULT_HEADER] = str(app.policies.default.index)
        return None
    policy = app.policies.by_name(name)
    if policy is None:
        return f"Invalid X-Storage-Policy {name[:64]!r}"
    backend[BACKEND_INDEX_HEADER] = str(policy.index)
    return None


def _slot_headers(app, account: str, backend: dict):
    apart, anodes = app.account_ring.get_nodes(account)

    def headers_for_slot(slot: int) -> dict:
        headers = dict(backend)
        if anodes:
            node = anodes[slot % len(anodes)]
            headers["X-Account-Host"] = f"{node['ip']}:{node['port']}"
            headers["X-Account-Device"] = node["device"]
            headers["X-Account-Partition"] = str(apart)
        return headers

    return headers_for_slot


def delete(app, environ, target):
    backend = {"X-Timestamp": Timestamp.now().normal}
    ring = app.container_ring
    part, nodes = ring.get_nodes(target.account, target.container)
    answers = fan_out(app.client, app.client.iter_nodes(ring, part, nodes), len(nodes), part,
                      "DELETE", target.path, _slot_headers(app, target.account, backend))
    app.info_cache.invalidate(target.account, target.container)
    app.info_cache.invalidate(target.account)
    status = choose_status([a.status for a in answers], quorum_size(len(nodes)))
    if 200 <= status < 300:
        return empty(204)
    if status == 409:
        return error(409, "container not empty")
    return error(status)
