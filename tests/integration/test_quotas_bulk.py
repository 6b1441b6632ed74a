"""Quotas, bulk and ratelimit on the real cluster, over HTTP: what Swift clients see."""
from __future__ import annotations

import http.client
import io
import json
import tarfile
import urllib.parse
from xml.dom import minidom

import pytest
from swiftclient.exceptions import ClientException

pytestmark = pytest.mark.cluster


def raw(url: str, method: str = "GET", headers: dict | None = None, body=None):
    """(status, headers, body) of one request; a generator body is sent chunked."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                     body=body, headers=headers or {},
                     encode_chunked=body is not None and not isinstance(body, bytes))
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def tar_bytes(members: dict, compression: str = "") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:" + compression) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def in_pieces(data: bytes, size: int = 1000):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_info_lists_the_middleware(cluster):
    status, _headers, body = raw(cluster.proxy_url + "/info")
    info = json.loads(body)
    assert status == 200
    assert {"container_quotas", "account_quotas", "bulk_upload", "bulk_delete",
            "ratelimit"} <= set(info)


def test_container_quota_refuses_and_keeps_nothing(conn, name):
    container = name("quota")
    conn.put_container(container, headers={"X-Container-Meta-Quota-Bytes": "10"})
    with pytest.raises(ClientException) as caught:
        conn.put_object(container, "big", b"01234567890")
    assert caught.value.http_status == 413
    conn.put_object(container, "fits", b"0123456789")
    assert [item["name"] for item in conn.get_container(container)[1]] == ["fits"]
    with pytest.raises(ClientException) as caught:
        conn.post_container(container, headers={"X-Container-Meta-Quota-Count": "many"})
    assert caught.value.http_status == 400


def test_account_quota_only_from_a_reseller_admin(cluster, conn, name):
    token, url = cluster.auth("test:tester")
    admin_token = cluster.token("admin:admin")
    status, _h, _b = raw(url, "POST", {"X-Auth-Token": token, "X-Account-Quota-Count": "0"})
    assert status == 403
    container = name("aq")
    conn.put_container(container)
    try:
        status, _h, _b = raw(url, "POST", {"X-Auth-Token": admin_token,
                                           "X-Account-Quota-Bytes": "0"})
        assert status == 204
        assert conn.head_account()["x-account-quota-bytes"] == "0"
        with pytest.raises(ClientException) as caught:
            conn.put_object(container, "o", b"x")
        assert caught.value.http_status == 413
    finally:
        raw(url, "POST", {"X-Auth-Token": admin_token, "X-Account-Quota-Bytes": ""})
    assert "x-account-quota-bytes" not in conn.head_account()
    conn.put_object(container, "o", b"x")



def test_a_policy_quota_caps_only_that_policys_containers(cluster, conn, name):
    token, url = cluster.auth("test:tester")
    admin_token = cluster.token("admin:admin")
    silver, gold = name("aq-silver"), name("aq-gold")
    conn.put_container(silver, headers={"X-Storage-Policy": "silver"})
    conn.put_container(gold)
    try:
        status, _h, _b = raw(url, "POST", {"X-Auth-Token": admin_token,
                                           "X-Account-Quota-Bytes-Policy-Silver": "0"})
        assert status == 204
        assert conn.head_account()["x-account-quota-bytes-policy-silver"] == "0"
        with pytest.raises(ClientException) as caught:
            conn.put_object(silver, "o", b"x")
        assert caught.value.http_status == 413
        conn.put_object(gold, "o", b"x")  # another policy: not capped
    finally:
        raw(url, "POST", {"X-Auth-Token": admin_token, "X-Account-Quota-Bytes-Policy-Silver": ""})
    conn.put_object(silver, "o", b"x")


def test_extract_archive_streamed_over_http(cluster, conn, name):
    token, url = cluster.auth("test:tester")
    container = name("bulk")
    archive = tar_bytes({f"{container}/a/one.txt": b"1" * 5000, f"{container}/two": b"2",
                         f"../{container}/evil": b"x"}, "bz2")
    status, headers, body = raw(url + "?extract-archive=tar.bz2", "PUT",
                                {"X-Auth-Token": token, "Accept": "application/json"},
                                in_pieces(archive))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    report = json.loads(body)
    assert report["Number Files Created"] == 2
    assert report["Response Status"] == "400 Bad Request"
    assert len(report["Errors"]) == 1 and "evil" in report["Errors"][0][0]
    names = sorted(item["name"] for item in conn.get_container(container)[1])
    assert names == ["a/one.txt", "two"]
    assert conn.get_object(container, "a/one.txt")[1] == b"1" * 5000


def test_junk_archive_is_a_400_and_creates_nothing(cluster, conn, name):
    token, url = cluster.auth("test:tester")
    container = name("junk")
    conn.put_container(container)
    status, _headers, body = raw(f"{url}/{container}?extract-archive=tar.gz", "PUT",
                                 {"X-Auth-Token": token}, b"\x1f\x8b" + b"junk" * 300)
    assert status == 400 and b"Invalid Tar File" in body
    assert conn.get_container(container)[1] == []


def test_bulk_delete_with_xml_report(cluster, conn, name):
    token, url = cluster.auth("test:tester")
    container = name("bdel")
    conn.put_container(container)
    for obj in ("a", "b c"):
        conn.put_object(container, obj, b"x")
    listing = f"{container}/a\n/{container}/b%20c\n{container}/nope\n{container}\n"
    status, _headers, body = raw(f"{url}?bulk-delete", "DELETE",
                                 {"X-Auth-Token": token, "Accept": "application/xml",
                                  "Content-Type": "text/plain"}, listing.encode())
    assert status == 200
    tree = minidom.parseString(body)
    values = {tag: tree.getElementsByTagName(tag)[0].firstChild.data
              for tag in ("number_deleted", "number_not_found", "response_status")}
    assert values == {"number_deleted": "3", "number_not_found": "1",
                      "response_status": "200 OK"}
    with pytest.raises(ClientException) as caught:
        conn.head_container(container)
    assert caught.value.http_status == 404


def test_bulk_delete_of_another_account_is_refused(cluster, conn2, conn, name):
    container = name("other")
    conn.put_container(container)
    conn.put_object(container, "keep", b"x")
    token2, _url2 = cluster.auth("test2:tester2")
    _token, url = cluster.auth("test:tester")
    status, _headers, body = raw(f"{url}?bulk-delete", "POST",
                                 {"X-Auth-Token": token2, "Accept": "application/json"},
                                 f"{container}/keep\n".encode())
    report = json.loads(body)
    assert status == 200 and report["Number Deleted"] == 0
    assert report["Errors"] == [[f"/{container}/keep", "403 Forbidden"]]
    assert conn.get_object(container, "keep")[1] == b"x"


def test_chunked_upload_is_cut_at_the_container_quota(cluster, conn, name):
    token, url = cluster.auth("test:tester")
    container = name("chunked")
    conn.put_container(container, headers={"X-Container-Meta-Quota-Bytes": "3000"})
    status, _headers, _body = raw(f"{url}/{container}/big", "PUT", {"X-Auth-Token": token},
                                  in_pieces(b"z" * 5000))
    assert status == 413
    status, _headers, _body = raw(f"{url}/{container}/small", "PUT", {"X-Auth-Token": token},
                                  in_pieces(b"z" * 2500))
    assert status == 201
    assert [item["name"] for item in conn.get_container(container)[1]] == ["small"]
