"""Account requests: listings (GET/HEAD), metadata (POST), PUT/DELETE (reseller admins).

With `account_autocreate` (Swift's behaviour, on by default) an account springs into
existence on first write: a container PUT or an account POST by an authorized user creates
it; GET/HEAD of a missing account by its owner answers as an empty account. POST and PUT take
the account ACL (`X-Account-Access-Control`, `proxy.account_acl`), validated here and stored
as sysmeta; only owners see it (and the temp URL keys) in GET/HEAD answers.
"""
from __future__ import annotations

from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from common import constraints
from common.timestamp import Timestamp
from proxy.account_acl import ACCESS_HEADER, SYSMETA_HEADER, clean_account_acl
from proxy.acl import AclError
from proxy.listing import check_listing_query, forward_read, meta_headers
from proxy.quorum import choose_status, fan_out, quorum_size
from proxy.responses import RawResponse, empty, error


def handle(app, req, target):
    method = req.method
    environ = req.environ
    if method in ("GET", "HEAD"):
        return read(app, environ, target)
    if method == "POST":
        return post(app, environ, target)
    if method in ("PUT", "DELETE"):
        return put_or_delete(app, environ, target, method)
    return error(405, f"method {method} not allowed on accounts",
                 [("Allow", "GET, HEAD, POST, PUT, DELETE")])


def read(app, environ, target):
    query = environ.get("QUERY_STRING", "")
    reason = check_listing_query(query, constraints.ACCOUNT_LISTING_LIMIT)
    if reason:
        return error(412, reason)
    ring = app.account_ring
    part, nodes = ring.get_nodes(target.account)
    drop_acls = not app.is_owner(environ, target.account)
    response, status = forward_read(app, environ, ring, part, nodes, target.path, drop_acls)
    if response is not None:
        return response
    if status == 404 and app.account_autocreate:
        return _empty_account(environ, target.account, query)
    return error(status)


def _empty_account(environ, account: str, query: str):
    headers = [("X-Account-Container-Count", "0"), ("X-Account-Object-Count", "0"),
               ("X-Account-Bytes-Used", "0"), ("X-Timestamp", Timestamp.now().normal)]
    fmt = parse_qs(query).get("format", ["plain"])[0].lower() if query else "plain"
    accept = environ.get("HTTP_ACCEPT", "")
    if fmt == "json" or (not query and "application/json" in accept):
        body = b"[]"
        content_type = "application/json; charset=utf-8"
    elif fmt == "xml":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<account name="{escape(account)}">'
                "</account>").encode()
        content_type = "application/xml; charset=utf-8"
    else:
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return RawResponse(204, headers + [("Content-Length", "0")], [b""])
    headers.append(("Content-Type", content_type))
    if environ.get("REQUEST_METHOD") == "HEAD":
        return RawResponse(204, headers + [("Content-Length", "0")], [b""])
    headers.append(("Content-Length", str(len(body))))
    return RawResponse(200, headers, [body])


def ensure_account(app, environ, account: str, create: bool):
    """None when the account exists (created if allowed), else an error response."""
    info = app.info_cache.account(account)
    if info.exists:
        return None
    if info.status != 404:
        return error(503, "account servers unavailable")
    if not create:
        return error(404, "account not found")
    status = _fan_out(app, account, "PUT", {"X-Timestamp": Timestamp.now().normal})
    app.info_cache.invalidate(account)
    if not 200 <= status < 300:
        return error(503, "could not create the account")
    return None


def _fan_out(app, account: str, method: str, headers: dict) -> int:
    ring = app.account_ring
    part, nodes = ring.get_nodes(account)
    answers = fan_out(app.client, app.client.iter_nodes(ring, part, nodes), len(nodes), part,
                      method, f"/{account}", lambda slot: headers)
    return choose_status([a.status for a in answers], quorum_size(len(nodes)))


def _write_headers(environ):
    """The metadata (and the account ACL, as sysmeta) of a PUT/POST, or a reason to refuse."""
    picked, reason = meta_headers(environ, "account")
    if reason:
        return None, reason
    value = environ.get("HTTP_" + ACCESS_HEADER.upper().replace("-", "_"))
    if value is not None:
        try:
            picked[SYSMETA_HEADER] = clean_account_acl(value)
        except AclError as exc:
            return None, str(exc)
    return picked, None


def post(app, environ, target):
    picked, reason = _write_headers(environ)
    if picked is None:
        return error(400, reason)
    problem = ensure_account(app, environ, target.account, create=app.account_autocreate)
    if problem is not None:
        return problem
    headers = {"X-Timestamp": Timestamp.now().normal}
    headers.update(picked)
    status = _fan_out(app, target.account, "POST", headers)
    app.info_cache.invalidate(target.account)
    if 200 <= status < 300:
        return empty(204)
    return error(status)


def put_or_delete(app, environ, target, method: str):
    picked, reason = _write_headers(environ)
    if picked is None:
        return error(400, reason)
    headers = {"X-Timestamp": Timestamp.now().normal}
    if method == "PUT":
        headers.update(picked)
    status = _fan_out(app, target.account, method, headers)
    app.info_cache.invalidate(target.account)
    if 200 <= status < 300:
        return empty(status if method == "PUT" else 204)
    return error(status)
