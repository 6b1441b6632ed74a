"""`X-Storage-Policy` through the in-process proxy on a cluster with one policy (its brume.conf
declares none: policy 0 `Policy-0`), and `/info` listing it."""
from __future__ import annotations

import json

from webob import Request


def test_policy_by_name_default_and_unknown(tester, proxy_app):
    assert tester("PUT", "sp-c", headers={"X-Storage-Policy": "policy-0"}).status_int == 201
    assert tester("HEAD", "sp-c").headers["X-Storage-Policy"] == "Policy-0"
    assert tester("PUT", "sp-d").status_int in (201, 202)
    assert tester("GET", "sp-d").headers["X-Storage-Policy"] == "Policy-0"
    resp = tester("PUT", "sp-e", headers={"X-Storage-Policy": "bronze"})
    assert resp.status_int == 400 and b"Invalid X-Storage-Policy" in resp.body
    assert tester("HEAD", "sp-e").status_int == 404
    assert tester("PUT", "sp-c/o", b"x").status_int == 201
    assert tester("GET", "sp-c/o").body == b"x"
    info = json.loads(Request.blank("/info").get_response(proxy_app).body)
    assert info["swift"]["policies"] == [
        {"name": "Policy-0", "aliases": "Policy-0", "default": True}]
    assert info["tempauth"]["account_acls"] is True
