"""proxy.auth.Authorizer: Swift's tempauth decisions as a pure function."""
from __future__ import annotations

import pytest

from common.token_check import Requester, v1_roles, with_implied
from proxy.acl import parse_acl
from proxy.auth import Authorizer
from proxy.callers import caller_of

AUTHZ = Authorizer("AUTH_")
ADMINS = frozenset({"admin", "service"})  # the default reseller_admin_projects


def v1(account, user, *flags):
    return caller_of(Requester(user, account, v1_roles(flags), flags, user), ADMINS)


def keystone(project, user_id, role):
    return caller_of(Requester(user_id, project, with_implied([role])), ADMINS)


TESTER = v1("test", "tester", ".admin")
TESTER2 = v1("test2", "tester2", ".admin")
TESTER3 = v1("test", "tester3")
ADMIN = v1("admin", "admin", ".admin", ".reseller_admin")


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


# Keystone tokens: a project's member owns AUTH_<project id>, a reader reads it, an admin of
# the admin project reaches every account; ACLs name projects and users by id.

MEMBER = keystone("p1", "u1", "member")
READER = keystone("p1", "u2", "reader")
CLOUD_ADMIN = keystone("admin", "u3", "admin")
PROJECT_ADMIN = keystone("p2", "u4", "admin")


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE"])
def test_a_member_owns_its_projects_account_only(method):
    assert decide(MEMBER, method, "c", "o", account="AUTH_p1") is None
    assert decide(MEMBER, method, "c", "o", account="AUTH_p2") == 403
    assert decide(PROJECT_ADMIN, method, "c", "o", account="AUTH_p2") is None
    assert decide(PROJECT_ADMIN, method, "c", "o", account="AUTH_p1") == 403


def test_a_reader_reads_its_projects_account_and_writes_nothing():
    for container, obj in ((None, None), ("c", None), ("c", "o")):
        assert decide(READER, "GET", container, obj, account="AUTH_p1") is None
        assert decide(READER, "HEAD", container, obj, account="AUTH_p1") is None
        assert decide(READER, "GET", container, obj, account="AUTH_p2") == 403
    for method in ("PUT", "POST", "DELETE"):
        assert decide(READER, method, "c", "o", account="AUTH_p1") == 403
        assert decide(READER, method, "c", account="AUTH_p1") == 403
    assert decide(READER, "POST", account="AUTH_p1") == 403
    assert decide(READER, "PUT", "c", "o", account="AUTH_p1", write="p1:u2") is None
    assert not AUTHZ.needs_acl(READER, "GET", "AUTH_p1", "c", "o")


def test_only_the_admin_projects_admin_is_a_reseller_admin():
    assert decide(CLOUD_ADMIN, "PUT", "c", "o", account="AUTH_p1") is None
    assert decide(CLOUD_ADMIN, "PUT", account="AUTH_new") is None
    assert decide(PROJECT_ADMIN, "PUT", account="AUTH_p2") == 403
    assert CLOUD_ADMIN.is_reseller_admin and not PROJECT_ADMIN.is_reseller_admin
    assert keystone("service", "glance", "admin").is_reseller_admin
    assert not keystone("service", "glance", "member").is_reseller_admin
    assert not keystone("admi", "u5", "admin").is_reseller_admin


@pytest.mark.parametrize("acl", ["p2:u9", "p2:*", "*:u9", "*:*", "p2"])
def test_keystone_acls_name_projects_and_users_by_id(acl):
    other = keystone("p2", "u9", "reader")
    assert decide(other, "GET", "c", "o", account="AUTH_p1", read=acl) is None
    assert decide(other, "PUT", "c", "o", account="AUTH_p1", write=acl) is None
    stranger = keystone("p3", "u8", "member")
    if acl not in ("*:*",):
        assert decide(stranger, "GET", "c", "o", account="AUTH_p1", read=acl) == 403
    assert decide(None, "GET", "c", "o", account="AUTH_p1", read=acl) == 401


def test_a_v1_token_keeps_tempauths_user_name_groups():
    assert decide(TESTER3, "GET", "c", "o", read="test:tester3") is None
    assert decide(TESTER3, "GET", "c", "o") == 403
    assert decide(TESTER3, "GET") == 403
