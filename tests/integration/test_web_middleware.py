"""staticweb, domain_remap and cors on the real cluster, over raw HTTP: a public web site
seen anonymously through a storage-domain Host, UTF-8 names sent raw in the request line, an
object named `/v1` reached through a container domain, and a browser's CORS preflight."""
from __future__ import annotations

import uuid

import pytest

from tests.integration.httpraw import request, send_raw, status_line

pytestmark = pytest.mark.cluster


def raw_get(url: str, target: bytes, host: bytes, extra: bytes = b"") -> bytes:
    head = b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra + \
        b"Connection: close\r\n\r\n"
    return send_raw(url, head)


@pytest.fixture
def site(cluster):
    token, storage_url = cluster.auth("test:tester")
    account = storage_url.rsplit("/", 1)[1]
    container = "web-" + uuid.uuid4().hex[:8]
    auth = {"X-Auth-Token": token}
    assert request(storage_url, "PUT", {**auth, "X-Container-Read": ".r:*,.rlistings",
                                        "X-Container-Meta-Web-Listings": "true",
                                        "X-Container-Meta-Access-Control-Allow-Origin":
                                            "https://app.example"},
                   b"", path=f"/{container}").status == 201
    for name, body in (("/v1", b"slash"), ("\u2603\u0805/\u00e9t\u00e9", b"utf8"),
                       ("a.txt", b"plain")):
        quoted = "".join(ch if ch.isascii() and ch not in " %" else
                         "".join(f"%{b:02X}" for b in ch.encode()) for ch in name)
        assert request(storage_url, "PUT", auth, body,
                       path=f"/{container}/{quoted}").status == 201
    return storage_url, account, container, token


def test_listing_through_a_container_domain_anonymously(cluster, site):
    storage_url, account, container, _token = site
    host = f"{container}.{account.replace('_', '-')}.example.com".encode()
    answer = raw_get(storage_url, b"/", host)
    assert status_line(answer) == 200
    page = answer.decode("utf-8", "replace")
    assert f"Listing of /v1/{account}/{container}/" in page
    assert '<a href="./a%2Etxt">a.txt</a>' in page and "%E2%98%83%E0%A0%85/" in page
    moved = raw_get(storage_url, "/\u2603\u0805".encode(), host)
    assert status_line(moved) == 301
    assert f"Location: http://{host.decode()}/%E2%98%83%E0%A0%85/".encode() in moved


def test_raw_utf8_and_double_slash_targets(cluster, site):
    storage_url, account, container, token = site
    auth = f"X-Auth-Token: {token}\r\n".encode()
    target = f"/v1/{account}/{container}/\u2603\u0805/\u00e9t\u00e9".encode()
    answer = raw_get(storage_url, target, b"proxy", auth)
    assert status_line(answer) == 200 and answer.endswith(b"utf8")
    host = f"{container}.{account}.example.com".encode()
    answer = raw_get(storage_url, b"//v1", host, auth)
    assert status_line(answer) == 200 and answer.endswith(b"slash")
    assert status_line(raw_get(storage_url, b"/", b"x.y.z.example.com")) == 400


def test_cors_preflight_without_token(cluster, site):
    storage_url, _account, container, token = site
    path = f"/{container}/a.txt"
    reply = request(storage_url, "OPTIONS", {"Origin": "https://app.example",
                                             "Access-Control-Request-Method": "GET"},
                    path=path)
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "https://app.example"
    refused = request(storage_url, "OPTIONS", {"Origin": "https://evil.example",
                                               "Access-Control-Request-Method": "GET"},
                      path=path)
    assert refused.status == 401
    reply = request(storage_url, "GET", {"Origin": "https://app.example",
                                         "X-Auth-Token": token}, path=path)
    assert reply.status == 200 and reply.body == b"plain"
    assert reply.headers["access-control-allow-origin"] == "https://app.example"
    assert "etag" in reply.headers["access-control-expose-headers"].split(", ")
