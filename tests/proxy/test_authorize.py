"""proxy.auth.Authorizer: Swift's tempauth decisions as a pure function."""
from __future__ import annotations

import pytest

from common.tokens import TokenInfo
from proxy.acl import parse_acl
from proxy.auth import Authorizer

AUTHZ = Authorizer("AUTH_")
TESTER = TokenInfo("test", "tester", (".admin",), 0)
TESTER2 = TokenInfo("test2", "tester2", (".admin",), 0)
TESTER3 = TokenInfo("test", "tester3", (), 0)
ADMIN = TokenInfo("admin", "admin", (".admin", ".reseller_admin"), 0)


def decide(identity, method, container=None, obj=None, read="", write="", referrer=None,
           account="AUTH_test"):
    return AUTHZ.authorize(identity, method, account, container, obj, parse_acl(read),
                           parse_acl(write), referrer)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY"])
def test_owner_may_do_anything_in_its_account(method):
    assert decide(TESTER, method, "c", "o") is None
    assert decide(TESTER, method if method != "COPY" else "GET", "c") is None


def test_account_put_delete_need_reseller_admin():
    assert decide(TESTER, "PUT") == 403
    assert decide(TESTER, "DELETE") == 403
    assert decide(ADMIN, "PUT") is None
    assert decide(ADMIN, "DELETE", account="AUTH_other") is None
    assert decide(None, "PUT") == 401
    assert decide(TESTER, "GET") is None
    assert decide(TESTER, "POST") is None


def test_reseller_admin_reaches_every_account():
    assert decide(ADMIN, "GET", "c", "o", account="AUTH_test2") is None
    assert decide(ADMIN, "PUT", "c", account="AUTH_test2") is None


def test_other_account_is_forbidden_without_acl():
    assert decide(TESTER2, "GET", "c", "o") == 403
    assert decide(TESTER2, "GET", "c") == 403
    assert decide(TESTER2, "GET") == 403
    assert decide(TESTER2, "PUT", "c", "o") == 403


def test_no_token_is_unauthorized():
    assert decide(None, "GET", "c", "o") == 401
    assert decide(None, "GET") == 401


def test_user_without_role_needs_acls():
    assert decide(TESTER3, "GET", "c", "o") == 403
    assert decide(TESTER3, "GET", "c", "o", read="test:tester3") is None
    assert decide(TESTER3, "GET", "c", "o", read="test") is None
    assert decide(TESTER3, "GET", "c", read="test:tester3") is None
    assert decide(TESTER3, "PUT", "c", "o", read="test:tester3") == 403
    assert decide(TESTER3, "PUT", "c", "o", write="test:tester3") is None
    assert decide(TESTER3, "DELETE", "c", "o", write="test:tester3") is None


def test_only_owners_manage_containers():
    for method in ("PUT", "POST", "DELETE"):
        assert decide(TESTER3, method, "c", read="test", write="test") == 403
        assert decide(TESTER2, method, "c", read="test2", write="test2") == 403
        assert decide(None, method, "c", read=".r:*") == 401


def test_anonymous_referrer_read():
    assert decide(None, "GET", "c", "o", read=".r:*") is None
    assert decide(None, "HEAD", "c", "o", read=".r:*") is None
    assert decide(None, "GET", "c", read=".r:*") == 401
    assert decide(None, "GET", "c", read=".r:*,.rlistings") is None
    assert decide(None, "PUT", "c", "o", read=".r:*", write="") == 401
    assert decide(None, "GET", "c", "o", read=".r:.example.com",
                  referrer="http://www.example.com/") is None
    assert decide(None, "GET", "c", "o", read=".r:.example.com") == 401


def test_cross_account_grant_by_acl():
    assert decide(TESTER2, "GET", "c", "o", read="test2") is None
    assert decide(TESTER2, "GET", "c", "o", read="test2:tester2") is None
    assert decide(TESTER2, "PUT", "c", "o", write="test2") is None
    assert decide(TESTER2, "GET", "c", "o", read="test2:someoneelse") == 403


def test_accounts_outside_the_reseller_prefix_are_refused():
    assert decide(TESTER, "GET", "c", "o", account="OTHER_test") == 403
    assert decide(ADMIN, "GET", "c", account="OTHER_test") == 403
    assert not AUTHZ.needs_acl(TESTER, "GET", "OTHER_test", "c", "o")


def test_needs_acl_only_for_non_owner_container_requests():
    assert not AUTHZ.needs_acl(TESTER, "GET", "AUTH_test", "c", "o")
    assert AUTHZ.needs_acl(TESTER3, "GET", "AUTH_test", "c", "o")
    assert AUTHZ.needs_acl(None, "GET", "AUTH_test", "c", None)
    assert not AUTHZ.needs_acl(None, "PUT", "AUTH_test", "c", None)
    assert not AUTHZ.needs_acl(TESTER2, "GET", "AUTH_test", None, None)
