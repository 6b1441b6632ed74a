"""Container requests: listings (GET/HEAD), create (PUT), metadata and ACLs (POST), DELETE.

PUT creates the account first when it is missing and `account_autocreate` is on. Every
write goes to all container replicas at once; replica i is told the i-th account replica to
report its stats to (`X-Account-Host/-Device/-Partition`). ACL headers are validated and
normalised here (`proxy.acl.clean_acl`); only owners get to see them in HEAD/GET answers.
"""
from __future__ import annotations

from common import constraints
from common.timestamp import Timestamp
from proxy import account_controller
from proxy.acl import READ_HEADER, WRITE_HEADER, AclError, clean_acl
from proxy.listing import check_listing_query, forward_read, meta_headers
from proxy.quorum import choose_status, fan_out, quorum_size
from proxy.responses import empty, error

ACL_HEADERS = (READ_HEADER, WRITE_HEADER)


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
    response, status = forward_read(app, environ, ring, part, nodes, target.path, drop_acls)
    if response is None:
        return error(status)
    return response


def _write_headers(environ):
    picked, reason = meta_headers(environ, "container", ACL_HEADERS)
    if reason:
        return None, reason
    for name in ACL_HEADERS:
        if name in picked:
            try:
                picked[name] = clean_acl(name, picked[name])
            except AclError as exc:
                return None, str(exc)
    return picked, None


def write(app, environ, target, method: str):
    picked, reason = _write_headers(environ)
    if picked is None:
        return error(400, reason)
    if method == "PUT":
        problem = account_controller.ensure_account(app, environ, target.account,
                                                    create=app.account_autocreate)
        if problem is not None:
            return problem
    backend = {"X-Timestamp": Timestamp.now().normal}
    backend.update(picked)
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
