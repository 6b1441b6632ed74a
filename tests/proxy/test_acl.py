"""proxy.acl: Swift's container ACL syntax, validation and referrer matching."""
from __future__ import annotations

import pytest

from proxy.acl import AclError, clean_acl, parse_acl, referrer_allowed


def test_clean_acl_normalises():
    assert clean_acl("X-Container-Read", " .r:* , .rlistings,test:tester ") == \
        ".r:*,.rlistings,test:tester"
    assert clean_acl("X-Container-Read", ".referrer:http://www.example.com/page") == \
        ".r:www.example.com"
    assert clean_acl("X-Container-Write", "test2,test:tester3") == "test2,test:tester3"
    assert clean_acl("X-Container-Read", "") == ""


@pytest.mark.parametrize("header,value", [
    ("X-Container-Write", ".r:*"),
    ("X-Container-Write", ".rlistings"),
    ("X-Container-Read", ".r:"),
    ("X-Container-Read", ".r:-"),
    ("X-Container-Read", ".unknown"),
    ("X-Container-Read", ".r"),
])
def test_clean_acl_refuses(header, value):
    with pytest.raises(AclError):
        clean_acl(header, value)


def test_parse_acl():
    acl = parse_acl(".r:*,.rlistings,test2,test:tester3")
    assert acl.referrers == ("*",)
    assert acl.groups == ("test2", "test:tester3")
    assert acl.listings
    assert parse_acl(None).groups == ()
    assert not parse_acl("test").listings


def test_referrer_rules():
    assert referrer_allowed(None, ("*",))
    assert referrer_allowed("http://a.example.com/x", (".example.com",))
    assert not referrer_allowed("http://a.example.org/x", (".example.com",))
    assert not referrer_allowed("http://bad.example.com/", (".example.com", "-bad.example.com"))
    assert referrer_allowed("http://good.example.com/", (".example.com", "-bad.example.com"))
    assert not referrer_allowed(None, (".example.com",))
    assert not referrer_allowed("http://x/", ())
