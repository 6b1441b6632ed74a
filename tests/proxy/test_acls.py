"""Container ACLs end to end: who may read, list and write, and that refusals change nothing."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def shared(tester):
    assert tester("PUT", "acl-c").status_int in (201, 202)
    assert tester("PUT", "acl-c/doc", b"secret").status_int == 201
    yield "acl-c"
    tester("POST", "acl-c", headers={"X-Container-Read": "", "X-Container-Write": ""})


def set_acls(tester, read="", write=""):
    resp = tester("POST", "acl-c", headers={"X-Container-Read": read, "X-Container-Write": write})
    assert resp.status_int == 204, resp.body


def foreign(client, method, rel, body=None, headers=None):
    return client.call(method, f"/v1/AUTH_test/{rel}", body, headers)


def test_without_acl_others_are_refused(tester, tester2, tester3, anonymous, shared):
    set_acls(tester)
    assert foreign(tester2, "GET", "acl-c/doc").status_int == 403
    assert foreign(tester3, "GET", "acl-c/doc").status_int == 403
    assert foreign(tester3, "GET", "acl-c").status_int == 403
    assert anonymous.call("GET", "/v1/AUTH_test/acl-c/doc").status_int == 401
    assert foreign(tester2, "PUT", "acl-c/evil", b"x").status_int == 403
    assert foreign(tester3, "DELETE", "acl-c/doc").status_int == 403
    assert tester("GET", "acl-c").body == b"doc\n"
    assert tester("GET", "acl-c/doc").body == b"secret"


def test_read_acl_for_user_and_account(tester, tester2, tester3, shared):
    set_acls(tester, read="test:tester3")
    assert foreign(tester3, "GET", "acl-c/doc").body == b"secret"
    assert foreign(tester3, "GET", "acl-c").body == b"doc\n"
    assert foreign(tester2, "GET", "acl-c/doc").status_int == 403
    assert foreign(tester3, "PUT", "acl-c/new", b"x").status_int == 403
    assert tester("HEAD", "acl-c/new").status_int == 404
    set_acls(tester, read="test2")
    assert foreign(tester2, "GET", "acl-c/doc").body == b"secret"
    head = foreign(tester2, "HEAD", "acl-c")
    assert head.status_int == 204 and "X-Container-Read" not in head.headers
    assert tester("HEAD", "acl-c").headers["X-Container-Read"] == "test2"


def test_write_acl(tester, tester2, tester3, shared):
    set_acls(tester, write="test2:tester2")
    assert foreign(tester2, "PUT", "acl-c/from2", b"hi").status_int == 201
    assert tester("GET", "acl-c/from2").body == b"hi"
    assert foreign(tester2, "GET", "acl-c/from2").status_int == 403
    assert foreign(tester2, "DELETE", "acl-c/from2").status_int == 204
    assert tester("GET", "acl-c/from2").status_int == 404
    assert foreign(tester3, "PUT", "acl-c/from3", b"hi").status_int == 403
    assert tester("GET", "acl-c/from3").status_int == 404


def test_anonymous_referrer_read_and_listing(tester, anonymous, shared):
    set_acls(tester, read=".r:*")
    assert anonymous.call("GET", "/v1/AUTH_test/acl-c/doc").body == b"secret"
    assert anonymous.call("GET", "/v1/AUTH_test/acl-c").status_int == 401
    assert anonymous.call("PUT", "/v1/AUTH_test/acl-c/anon", b"x").status_int == 401
    assert tester("GET", "acl-c/anon").status_int == 404
    set_acls(tester, read=".r:*,.rlistings")
    assert anonymous.call("GET", "/v1/AUTH_test/acl-c").body == b"doc\n"


def test_only_owners_set_acls_or_manage_containers(tester, tester2, tester3, anonymous,
                                                  shared):
    set_acls(tester, read="test:tester3", write="test:tester3")
    resp = foreign(tester3, "POST", "acl-c", headers={"X-Container-Read": ".r:*"})
    assert resp.status_int == 403
    assert tester("HEAD", "acl-c").headers["X-Container-Read"] == "test:tester3"
    assert foreign(tester3, "PUT", "made-by-3").status_int == 403
    assert tester("HEAD", "made-by-3").status_int == 404
    assert foreign(tester2, "PUT", "made-by-2").status_int == 403
    assert tester("HEAD", "made-by-2").status_int == 404
    assert foreign(tester3, "DELETE", "acl-c").status_int == 403
    assert anonymous.call("DELETE", "/v1/AUTH_test/acl-c").status_int == 401
    assert tester("HEAD", "acl-c").status_int == 204
    assert foreign(tester2, "GET", "").status_int == 403
    assert foreign(tester3, "GET", "").status_int == 403


def test_bad_acl_is_refused_and_keeps_the_old_one(tester, shared):
    set_acls(tester, read="test2")
    resp = tester("POST", "acl-c", headers={"X-Container-Write": ".r:*"})
    assert resp.status_int == 400
    resp = tester("POST", "acl-c", headers={"X-Container-Read": ".bogus"})
    assert resp.status_int == 400
    head = tester("HEAD", "acl-c")
    assert head.headers["X-Container-Read"] == "test2"
    assert "X-Container-Write" not in head.headers or head.headers["X-Container-Write"] == ""


def test_reseller_admin_reaches_other_accounts(admin, shared):
    assert admin.call("GET", "/v1/AUTH_test/acl-c/doc").body == b"secret"
    assert admin.call("PUT", "/v1/AUTH_test/acl-c/by-admin", b"a").status_int == 201
    assert admin.call("DELETE", "/v1/AUTH_test/acl-c/by-admin").status_int == 204


def test_x_remove_takes_an_acl_away(tester, tester2, shared):
    set_acls(tester, read="test2", write="test2")
    assert foreign(tester2, "GET", "acl-c/doc").status_int == 200
    assert tester("POST", "acl-c", headers={"X-Remove-Container-Read": "x",
                                            "X-Remove-Container-Write": "x"}).status_int == 204
    assert foreign(tester2, "GET", "acl-c/doc").status_int == 403
    assert "X-Container-Read" not in tester("HEAD", "acl-c").headers
