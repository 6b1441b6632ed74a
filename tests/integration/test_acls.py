"""Container ACLs and roles end to end: test vs test2 accounts, test:tester3 without a role,
anonymous `.r:*` reads; every refusal also checks that nothing changed."""
from __future__ import annotations

import http.client
import urllib.parse

import pytest
from swiftclient.exceptions import ClientException

pytestmark = pytest.mark.cluster


def refused(call, *args, **kwargs) -> int:
    with pytest.raises(ClientException) as caught:
        call(*args, **kwargs)
    return caught.value.http_status


def raw(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                     body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def shared(conn, name):
    """A container of account test holding one object."""
    container = name("acl")
    conn.put_container(container)
    conn.put_object(container, "doc", b"secret")
    return container


def test_other_account_is_refused_without_acl(conn, conn2, shared):
    url = conn.get_auth()[0]
    token2 = conn2.get_auth()[1]
    status, _ = raw(f"{url}/{shared}/doc", headers={"X-Auth-Token": token2})
    assert status == 403
    status, _ = raw(f"{url}/{shared}", headers={"X-Auth-Token": token2})
    assert status == 403
    status, _ = raw(f"{url}/{shared}/doc", "PUT", {"X-Auth-Token": token2}, b"evil")
    assert status == 403
    status, _ = raw(f"{url}/{shared}/doc", "DELETE", {"X-Auth-Token": token2})
    assert status == 403
    status, _ = raw(url, headers={"X-Auth-Token": token2})
    assert status == 403
    assert conn.get_object(shared, "doc")[1] == b"secret"


def test_read_acl_grants_reads_not_writes(conn, conn2, shared):
    conn.post_container(shared, {"X-Container-Read": "test2:tester2"})
    url = conn.get_auth()[0]
    token2 = conn2.get_auth()[1]
    status, body = raw(f"{url}/{shared}/doc", headers={"X-Auth-Token": token2})
    assert (status, body) == (200, b"secret")
    status, body = raw(f"{url}/{shared}", headers={"X-Auth-Token": token2})
    assert status == 200 and body.split() == [b"doc"]
    status, _ = raw(f"{url}/{shared}/new", "PUT", {"X-Auth-Token": token2}, b"x")
    assert status == 403
    assert refused(conn.head_object, shared, "new") == 404
    # The grantee cannot change the ACL itself.
    status, _ = raw(f"{url}/{shared}", "POST",
                    {"X-Auth-Token": token2, "X-Container-Read": ".r:*"})
    assert status == 403
    assert conn.head_container(shared)["x-container-read"] == "test2:tester2"


def test_write_acl_grants_writes(conn, conn2, shared):
    conn.post_container(shared, {"X-Container-Write": "test2"})
    url = conn.get_auth()[0]
    token2 = conn2.get_auth()[1]
    status, _ = raw(f"{url}/{shared}/from-test2", "PUT", {"X-Auth-Token": token2}, b"hello")
    assert status == 201
    assert conn.get_object(shared, "from-test2")[1] == b"hello"
    # Write access alone does not grant reads.
    status, _ = raw(f"{url}/{shared}/doc", headers={"X-Auth-Token": token2})
    assert status == 403


def test_user_without_role_needs_an_acl(conn, conn3, shared, name):
    assert refused(conn3.get_object, shared, "doc") == 403
    assert refused(conn3.put_container, name("mine")) == 403
    assert refused(conn3.put_object, shared, "doc", b"overwrite") == 403
    assert conn.get_object(shared, "doc")[1] == b"secret"
    conn.post_container(shared, {"X-Container-Read": "test:tester3"})
    assert conn3.get_object(shared, "doc")[1] == b"secret"
    assert refused(conn3.put_object, shared, "doc", b"overwrite") == 403
    assert conn.get_object(shared, "doc")[1] == b"secret"


def test_anonymous_referrer_read(conn, shared):
    url = conn.get_auth()[0]
    status, _ = raw(f"{url}/{shared}/doc")
    assert status == 401
    conn.post_container(shared, {"X-Container-Read": ".r:*"})
    assert raw(f"{url}/{shared}/doc") == (200, b"secret")
    status, _ = raw(f"{url}/{shared}")  # listing needs .rlistings
    assert status in (401, 403)
    conn.post_container(shared, {"X-Container-Read": ".r:*,.rlistings"})
    status, body = raw(f"{url}/{shared}")
    assert status == 200 and body.split() == [b"doc"]
    status, _ = raw(f"{url}/{shared}/doc", "PUT", {}, b"anon")
    assert status == 401
    assert conn.get_object(shared, "doc")[1] == b"secret"


def test_reseller_admin_reaches_every_account(cluster, conn, shared):
    url = conn.get_auth()[0]
    admin_token = cluster.token("admin:admin")
    status, body = raw(f"{url}/{shared}/doc", headers={"X-Auth-Token": admin_token})
    assert (status, body) == (200, b"secret")
