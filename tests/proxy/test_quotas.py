"""`container_quotas` and `account_quotas`: who sets them, what they refuse, what they show."""
from __future__ import annotations

import io
import uuid

import pytest

from common.http_errors import HTTPError
from proxy.pipeline import make_app
from proxy.quota_rules import (
    CappedBody,
    Limits,
    Usage,
    cap_chunked_body,
    exceeded,
    parse_quota,
    stored_quota,
)
from tests.proxy.cluster import pipeline_conf
from tests.proxy.conftest import Client, rings_for

PIPELINE = "catch_errors healthcheck auth copy container_quotas account_quotas slo dlo proxy-server"


@pytest.fixture(scope="module")
def quota_app(storage_cluster):
    return make_app(pipeline_conf(storage_cluster, PIPELINE), rings_for(storage_cluster.conf_dir))


@pytest.fixture(scope="module")
def owner(quota_app):
    return Client(quota_app, "test:tester", "testing")


@pytest.fixture(scope="module")
def plain_user(quota_app):
    return Client(quota_app, "test:tester3", "testing3")


@pytest.fixture(scope="module")
def reseller(quota_app):
    client = Client(quota_app, "admin:admin", "admin")
    client.account = "AUTH_test"
    return client


@pytest.fixture
def container(owner):
    name = f"q-{uuid.uuid4().hex[:10]}"
    assert owner("PUT", name).status_int in (201, 202)
    return name


def test_info_lists_both(quota_app):
    info = Client(quota_app).call("GET", "/info").json
    assert "container_quotas" in info and "account_quotas" in info


def test_container_bytes_quota(owner, container):
    resp = owner("POST", container, headers={"X-Container-Meta-Quota-Bytes": "10"})
    assert resp.status_int == 204
    assert owner("HEAD", container).headers["X-Container-Meta-Quota-Bytes"] == "10"
    resp = owner("PUT", f"{container}/o", body=b"01234567890")
    assert resp.status_int == 413, resp.body
    assert owner("GET", f"{container}/o").status_int == 404
    assert owner("PUT", f"{container}/o", body=b"0123456789").status_int == 201
    assert owner("PUT", f"{container}/p", body=b"x").status_int == 413
    assert owner("PUT", f"{container}/p", body=b"").status_int == 201


def test_container_count_quota_and_copy(owner, container):
    assert owner("POST", container, headers={"X-Container-Meta-Quota-Count": "1"}).status_int \
        == 204
    assert owner("PUT", f"{container}/a", body=b"aaa").status_int == 201
    assert owner("PUT", f"{container}/b", body=b"b").status_int == 413
    resp = owner("COPY", f"{container}/a", headers={"Destination": f"{container}/c"})
    assert resp.status_int == 413
    resp = owner("PUT", f"{container}/c", headers={"X-Copy-From": f"{container}/a"})
    assert resp.status_int == 413
    # removing the quota lifts it
    assert owner("POST", container, headers={"X-Container-Meta-Quota-Count": ""}).status_int \
        == 204
    assert owner("PUT", f"{container}/b", body=b"b").status_int == 201


@pytest.mark.parametrize("value", ["-1", "ten", "1.5", "\u0661"])
def test_container_quota_must_be_an_integer(owner, container, value):
    resp = owner("POST", container,
                 headers={"X-Container-Meta-Quota-Bytes": value.encode().decode("latin-1")})
    assert resp.status_int == 400
    assert "X-Container-Meta-Quota-Bytes" not in owner("HEAD", container).headers
    name = f"q-{uuid.uuid4().hex[:10]}"
    assert owner("PUT", name, headers={"X-Container-Meta-Quota-Count": value.encode().decode(
        "latin-1")}).status_int == 400
    assert owner("HEAD", name).status_int == 404


def test_write_acl_user_cannot_set_container_quota_but_is_bound_by_it(owner, plain_user,
                                                                       container):
    assert owner("POST", container, headers={"X-Container-Write": "test:tester3",
                                             "X-Container-Meta-Quota-Bytes": "3"}).status_int \
        == 204
    resp = plain_user("POST", container, headers={"X-Container-Meta-Quota-Bytes": "100"})
    assert resp.status_int == 403
    assert plain_user("PUT", f"{container}/big", body=b"1234").status_int == 413
    assert plain_user("PUT", f"{container}/ok", body=b"123").status_int == 201


QUOTA_HEADERS = ["X-Account-Meta-Quota-Bytes", "X-Account-Quota-Bytes", "X-Account-Quota-Count",
                 "X-Account-Quota-Bytes-Policy-policy-0", "X-Account-Quota-Count-Policy-Policy-0"]


@pytest.mark.parametrize("header", QUOTA_HEADERS)
def test_account_owner_cannot_set_or_remove_its_quota(owner, header):
    assert owner("POST", headers={header: "0"}).status_int == 403
    assert owner("POST", headers={header.replace("X-", "X-Remove-"): "t"}).status_int == 403
    assert owner("POST", headers={header: ""}).status_int == 403


def test_client_cannot_write_account_sysmeta(owner):
    assert owner("POST", headers={"X-Account-Sysmeta-Quota-Bytes": "0"}).status_int == 204
    assert "X-Account-Quota-Bytes" not in owner("HEAD").headers
    assert not [h for h in owner("HEAD").headers if h.lower().startswith("x-account-sysmeta")]


@pytest.mark.parametrize("header", QUOTA_HEADERS)
def test_reseller_sets_shows_and_removes_account_quota(owner, reseller, header):
    def shown():
        headers = owner("HEAD").headers
        return headers.get(header.replace("-Meta-", "-"), headers.get(header))

    try:
        assert reseller("POST", headers={header: "123"}).status_int == 204
        assert shown() == "123"
        assert reseller("POST", headers={header.replace("X-", "X-Remove-"): "t"}).status_int \
            == 204
        assert shown() is None
        assert reseller("POST", headers={header: "0"}).status_int == 204
        assert shown() == "0"
        assert reseller("POST", headers={header: ""}).status_int == 204
        assert shown() is None
    finally:
        reseller("POST", headers={header: ""})


def test_account_quota_refuses_bad_values_and_unknown_policies(owner, reseller):
    assert reseller("POST", headers={"X-Account-Quota-Bytes": "lots"}).status_int == 400
    assert reseller("POST", headers={"X-Account-Quota-Bytes-Policy-bronze": "1"}).status_int \
        == 400
    assert "X-Account-Quota-Bytes" not in owner("HEAD").headers


def test_account_quota_is_enforced(owner, reseller, container):
    # account stats arrive asynchronously: a quota of what is seen now is reached already
    used = int(owner("HEAD").headers["X-Account-Bytes-Used"])
    try:
        assert reseller("POST", headers={"X-Account-Quota-Bytes": str(used)}).status_int == 204
        assert owner("PUT", f"{container}/big", body=b"1").status_int == 413
        assert owner("GET", f"{container}/big").status_int == 404
        assert reseller("POST", headers={"X-Account-Quota-Bytes": str(used + 10**9)}) \
            .status_int == 204
        assert owner("PUT", f"{container}/fits", body=b"12345").status_int == 201
        assert reseller("POST", headers={"X-Account-Quota-Bytes": ""}).status_int == 204
        count = int(owner("HEAD").headers["X-Account-Storage-Policy-Policy-0-Object-Count"])
        assert reseller("POST", headers={"X-Account-Quota-Count-Policy-Policy-0":
                                         str(count)}).status_int == 204
        assert owner("PUT", f"{container}/second", body=b"").status_int == 413
        assert reseller("POST", headers={"X-Account-Quota-Count-Policy-Policy-0": ""}) \
            .status_int == 204
        used = int(owner("HEAD").headers["X-Account-Bytes-Used"])
        assert reseller("POST", headers={"X-Account-Meta-Quota-Bytes": str(used)}).status_int \
            == 204
        assert owner("PUT", f"{container}/legacy", body=b"1").status_int == 413
    finally:
        for header in QUOTA_HEADERS:
            reseller("POST", headers={header: ""})
    assert owner("PUT", f"{container}/after", body=b"123456").status_int == 201


def test_capped_body_aborts_past_the_allowance():
    body = CappedBody(io.BytesIO(b"x" * 10), 6, "upload exceeds quota: 6 bytes")
    assert body.read(4) == b"xxxx"
    with pytest.raises(HTTPError) as caught:
        body.read(4)
    assert caught.value.status == 413


@pytest.mark.parametrize("length, capped", [("", True), ("5", False)])
def test_only_a_chunked_put_is_capped(length, capped):
    environ = {"wsgi.input": io.BytesIO(b"abc"), "CONTENT_LENGTH": length}
    cap_chunked_body(environ, Limits(max_bytes=10), bytes_used=8)
    assert isinstance(environ["wsgi.input"], CappedBody) == capped
    cap_chunked_body(environ, Limits(max_count=1), bytes_used=8)


@pytest.mark.parametrize("limits, usage, new_bytes, expected", [
    (Limits(), Usage(10**12, 10**9), 10**9, None),
    (Limits(max_bytes=10), Usage(5, 0), 5, None),
    (Limits(max_bytes=10), Usage(5, 0), 6, "upload exceeds quota: 10 bytes"),
    (Limits(max_count=2), Usage(0, 1), 0, None),
    (Limits(max_count=2), Usage(0, 2), 0, "upload exceeds quota: 2 objects"),
    (Limits(max_bytes=0), Usage(0, 0), 0, None),
])
def test_exceeded(limits, usage, new_bytes, expected):
    assert exceeded(limits, usage, new_bytes) == expected


def test_quota_values():
    assert parse_quota("Q", " 12 ") == 12 and parse_quota("Q", "") is None
    for bad in ("-1", "1e3", "\u0661", "0x10"):
        with pytest.raises(HTTPError):
            parse_quota("Q", bad)
    assert stored_quota("junk") is None and stored_quota("7") == 7


def test_only_a_container_or_account_with_a_quota_costs_a_fresh_head(owner, monkeypatch):
    from proxy.middleware import account_quotas, container_quotas

    asked = []
    for module in (account_quotas, container_quotas):
        real = module.head_entity
        monkeypatch.setattr(module, "head_entity",
                            lambda app, env, *names, real=real: asked.append(names)
                            or real(app, env, *names))
    name = f"cq-cached-{uuid.uuid4().hex[:8]}"
    assert owner("PUT", name).status_int in (201, 202)
    assert owner("PUT", f"{name}/a", b"x" * 10).status_int == 201
    assert asked == []  # no quota anywhere: the info cache answered
    assert owner("POST", name, headers={"X-Container-Meta-Quota-Bytes": "15"}).status_int == 204
    assert owner("PUT", f"{name}/b", b"x" * 10).status_int == 413  # enforced at once
    assert asked == [(owner.account, name)]

