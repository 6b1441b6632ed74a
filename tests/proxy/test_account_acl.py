"""Account ACLs (`X-Account-Access-Control`): the pure parsing and level logic, then the
levels end to end through the in-process proxy (tester owns AUTH_test, tester3 is a member of
account test without a role, tester2 belongs to another account)."""
from __future__ import annotations

import json

import pytest

from proxy.account_acl import (
    ADMIN,
    READ_ONLY,
    READ_WRITE,
    access_level,
    clean_account_acl,
    level_allows,
    parse_account_acl,
)
from proxy.acl import AclError


@pytest.mark.parametrize("value", [
    "yuck", "[]", '"admin"', '{"admin": "bob"}', '{"admin": [1]}', '{"owner": ["bob"]}',
    '{"admin": ["' + "x" * 9000 + '"]}', '{"admin": [NaN]}',
])
def test_bad_values_are_refused(value):
    with pytest.raises(AclError):
        clean_account_acl(value)


def test_values_are_normalised():
    assert clean_account_acl('{ "read-only" : ["a"], "admin": ["b", "c"] }') == \
        '{"admin":["b","c"],"read-only":["a"]}'
    assert clean_account_acl("{}") == ""
    assert clean_account_acl('{"admin": []}') == ""


def test_levels():
    acl = parse_account_acl('{"admin":["a:boss"],"read-write":["b"],"read-only":["c:x"]}')
    assert access_level(acl, {"a", "a:boss"}) == ADMIN
    assert access_level(acl, {"b", "b:any"}) == READ_WRITE
    assert access_level(acl, {"c", "c:x"}) == READ_ONLY
    assert access_level(acl, {"c", "c:y"}) is None
    assert access_level(parse_account_acl("not json"), {"a:boss"}) is None
    assert level_allows(READ_ONLY, "GET", None) and level_allows(READ_ONLY, "HEAD", "c")
    assert not level_allows(READ_ONLY, "PUT", "c") and not level_allows(READ_ONLY, "POST", None)
    assert level_allows(READ_WRITE, "PUT", "c") and level_allows(READ_WRITE, "DELETE", "c")
    assert not level_allows(READ_WRITE, "POST", None)
    assert level_allows(ADMIN, "POST", None)
    assert not level_allows(ADMIN, "PUT", None) and not level_allows(ADMIN, "DELETE", None)
    assert not level_allows(None, "GET", None)


def grant(tester, acl: dict | None):
    value = json.dumps(acl) if acl is not None else "{}"
    resp = tester("POST", "", headers={"X-Account-Access-Control": value})
    assert resp.status_int == 204, resp.body


def as3(tester3, method, rel="", body=None, headers=None):
    return tester3.call(method, "/v1/AUTH_test" + (f"/{rel}" if rel else ""), body, headers)


@pytest.fixture
def acl_container(tester):
    assert tester("PUT", "accacl-c", headers={"X-Container-Meta-Color": "blue"}).status_int \
        in (201, 202)
    assert tester("PUT", "accacl-c/doc", b"secret").status_int == 201
    yield "accacl-c"
    grant(tester, None)


def test_bad_acl_is_refused_and_changes_nothing(tester, acl_container):
    grant(tester, {"admin": ["bob"]})
    assert tester("POST", "", headers={"X-Account-Access-Control": "yuck"}).status_int == 400
    assert tester("POST", "", headers={
        "X-Account-Access-Control": '{"bad-key": []}'}).status_int == 400
    assert tester("HEAD", "").headers["X-Account-Access-Control"] == '{"admin":["bob"]}'
    grant(tester, None)
    assert "X-Account-Access-Control" not in tester("HEAD", "").headers


def test_read_only(tester, tester3, acl_container):
    assert as3(tester3, "GET").status_int == 403
    grant(tester, {"read-only": ["test:tester3"]})
    tester("POST", "", headers={"X-Account-Meta-Temp-Url-Key": "hush"})
    listing = as3(tester3, "GET")
    assert listing.status_int == 200 and b"accacl-c" in listing.body
    assert "X-Account-Access-Control" not in listing.headers
    assert "X-Account-Meta-Temp-Url-Key" not in listing.headers
    assert as3(tester3, "GET", "accacl-c/doc").body == b"secret"
    assert as3(tester3, "HEAD", "accacl-c").headers["X-Container-Meta-Color"] == "blue"
    assert as3(tester3, "PUT", "accacl-c/new", b"x").status_int == 403
    assert as3(tester3, "PUT", "accacl-other").status_int == 403
    assert as3(tester3, "POST", "", headers={"X-Account-Meta-X": "1"}).status_int == 403
    assert tester("HEAD", "accacl-c/new").status_int == 404
    tester("POST", "", headers={"X-Remove-Account-Meta-Temp-Url-Key": "x"})


def test_read_write_cannot_touch_owner_headers(tester, tester3, acl_container):
    grant(tester, {"read-write": ["test:tester3"]})
    assert as3(tester3, "PUT", "accacl-c/new", b"x").status_int == 201
    assert as3(tester3, "DELETE", "accacl-c/new").status_int == 204
    resp = as3(tester3, "POST", "accacl-c", headers={"X-Container-Read": "test2",
                                                     "X-Container-Meta-Color": "red"})
    assert resp.status_int == 204
    head = tester("HEAD", "accacl-c").headers
    assert head["X-Container-Meta-Color"] == "red" and "X-Container-Read" not in head
    assert as3(tester3, "POST", "", headers={"X-Account-Meta-X": "1"}).status_int == 403
    assert "X-Account-Access-Control" not in as3(tester3, "HEAD").headers


def test_admin_is_an_owner_but_not_of_the_account_itself(tester, tester3, tester2,
                                                         acl_container):
    grant(tester, {"admin": ["test:tester3"]})
    head = as3(tester3, "HEAD")
    assert head.headers["X-Account-Access-Control"] == '{"admin":["test:tester3"]}'
    assert as3(tester3, "POST", "", headers={"X-Account-Meta-X": "1"}).status_int == 204
    assert as3(tester3, "DELETE").status_int == 403
    assert tester2.call("GET", "/v1/AUTH_test").status_int == 403
    assert as3(tester3, "POST", "", headers={"X-Account-Access-Control": "{}"}).status_int == 204
    assert as3(tester3, "GET").status_int == 403
