"""Bad input on every service of the real cluster: a one-line 4xx, nothing changed.

Over raw sockets (exact bytes, no client-side fixes): request heads with unclear framing are
refused and the connection closed before the bytes after the head can be parsed as a
second request; 100 000-deep JSON and non-UTF-8 paths (`%FF`) get a 4xx from the proxy, the
object, container and account servers, the image API, the compute API and a compute agent;
large-object cycles and self-referencing DLOs are answered without recursing.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from compute.service_auth import API_TARGET, agent_target, sign_headers
from tests.compute.support import CloudSettings
from tests.integration.httpraw import request, send_and_watch_close, status_lines

pytestmark = pytest.mark.cluster

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def one_line_4xx(reply) -> bool:
    return 400 <= reply.status < 500 and len(reply.body.strip().splitlines()) <= 1


def endpoints(cluster) -> dict[str, str]:
    return {
        "proxy": cluster.proxy_url,
        "object": cluster.spec(1, "object").endpoint,
        "container": cluster.spec(1, "container").endpoint,
        "account": cluster.spec(1, "account").endpoint,
        "image": cluster.image_url,
        "compute": cluster.compute_url,
        "agent": cluster.service_spec("agent-hv1").endpoint,
    }


@pytest.fixture
def account(cluster, name):
    """test:tester's storage path, a fresh container holding `existing`."""
    token, url = cluster.auth("test:tester")
    container = name("bad")
    path = "/" + "/".join(url.split("/")[3:]) + f"/{container}"
    assert request(cluster.proxy_url, "PUT", {"X-Auth-Token": token}, b"",
                   path=path).status in (201, 202)
    assert request(cluster.proxy_url, "PUT", {"X-Auth-Token": token}, b"keep me",
                   path=f"{path}/existing").status == 201
    return token, path


def exists(cluster, token: str, path: str) -> bool:
    return request(cluster.proxy_url, "HEAD", {"X-Auth-Token": token}, path=path).status == 200


# ---- item 5: framing -----------------------------------------------------------------

FRAMINGS = [
    (b"Transfer-Encoding: gzip, chunked\r\n", 501),
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", 400),
    (b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", 400),
    (b"Transfer-Encoding : chunked\r\n", 400),
    (b"Content-Length: 0\r\nContent-Length: 40\r\n", 400),
]


@pytest.mark.parametrize("framing, status", FRAMINGS)
def test_proxy_refuses_unclear_framing_stores_nothing_parses_no_second_request(
        cluster, account, framing, status):
    token, path = account
    smuggled = (f"DELETE {path}/existing HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
                "Content-Length: 0\r\n\r\n").encode()
    head = (f"PUT {path}/smuggler HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
            ).encode() + framing + b"\r\n"
    answer, closed = send_and_watch_close(cluster.proxy_url, head + b"0\r\n\r\n" + smuggled)
    assert closed, "the proxy kept the connection open"
    assert status_lines(answer) == [status]
    assert b"\r\nConnection: close\r\n" in answer.partition(b"\r\n\r\n")[0] + b"\r\n"
    assert not exists(cluster, token, f"{path}/smuggler")
    assert exists(cluster, token, f"{path}/existing"), "the smuggled DELETE ran"


@pytest.mark.parametrize("service", ["object", "container", "image", "compute", "agent"])
def test_other_services_refuse_unclear_framing_and_close(cluster, service):
    url = endpoints(cluster)[service]
    smuggled = b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n"
    for framing, status in FRAMINGS:
        head = b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n"
        answer, closed = send_and_watch_close(url, head + b"0\r\n\r\n" + smuggled)
        assert closed, f"{service} kept the connection open after {framing!r}"
        assert status_lines(answer) == [status], (service, framing, answer)
        assert answer.endswith(b"\n") and b"OK" not in answer.partition(b"\r\n\r\n")[2]


def test_object_server_stores_nothing_from_a_refused_head(cluster):
    """A properly signed PUT with unclear framing is refused, and nothing is stored."""
    object_url = endpoints(cluster)["object"]
    ip, port = urlsplit(object_url).hostname, urlsplit(object_url).port
    device = cluster.layout.device_name(1)
    path = f"/{device}/1/AUTH_test/c/framed"
    signed = cluster.backend_auth().signed(
        "PUT", path, {"X-Timestamp": "1700000000.00000", "Content-Type": "text/plain"}, "")
    head = (f"PUT {path} HTTP/1.1\r\nHost: x\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in signed.items())
            + "Transfer-Encoding: gzip, chunked\r\n\r\n").encode()
    answer, closed = send_and_watch_close(object_url, head + b"5\r\nhello\r\n0\r\n\r\n")
    assert closed and status_lines(answer) == [501]
    status, _headers, _body = cluster.storage_request(ip, port, "HEAD", path)
    assert status == 404


# ---- item 7: deep JSON and %FF on every service ---------------------------------------

def test_non_utf8_paths_are_4xx_on_every_service(cluster):
    token = cluster.token("test:tester")
    settings = CloudSettings.of(cluster)
    compute_token = settings_token(settings)
    device = cluster.layout.device_name(1)
    cases = {
        "proxy": ["/v1/AUTH_test/%FF", "/v1/AUTH_test/c/%FF", "/v1/%FF"],
        "object": [f"/{device}/1/AUTH_test/c/%FF", "/%FF/1/a/c/o", f"/{device}/%FF",
                   "/recon/%FF"],
        "container": [f"/{device}/1/AUTH_test/%FF", f"/{device}/1/%FF"],
        "account": [f"/{device}/1/%FF", f"/{device}/1/AUTH_test/%FF"],
        "image": ["/v2/images/%FF", "/v2/images/%FF/file", "/%FF"],
        "compute": ["/v2.1/servers/%FF", "/v2.1/flavors/%FF", "/%FF"],
        "agent": ["/v1/instances/%FF", "/%FF"],
    }
    urls = endpoints(cluster)
    for service, paths in cases.items():
        auth = {"X-Auth-Token": compute_token if service == "compute" else token}
        for path in paths:
            for method in ("GET", "PUT", "REPLICATE"):
                reply = request(urls[service], method, auth, b"" if method == "PUT" else None,
                                path=path)
                assert one_line_4xx(reply), (service, method, path, reply)


def settings_token(settings: CloudSettings) -> str:
    from common.tokens import issue_token

    return issue_token(settings.token_secret, "badinput", "badinput:alice", [".admin"])[0]


def test_deep_json_is_4xx_on_every_json_service(cluster, account):
    token, path = account
    settings = CloudSettings.of(cluster)
    compute_token = settings_token(settings)
    urls = endpoints(cluster)
    json_type = {"Content-Type": "application/json"}
    replies = {
        "proxy SLO manifest": request(urls["proxy"], "PUT", {"X-Auth-Token": token}, DEEP_JSON,
                                      path=f"{path}/deep?multipart-manifest=put"),
        "image create": request(urls["image"], "POST", {"X-Auth-Token": token, **json_type},
                                DEEP_JSON, path="/v2/images"),
        "compute boot": request(urls["compute"], "POST",
                                {"X-Auth-Token": compute_token, **json_type}, DEEP_JSON,
                                path="/v2.1/servers"),
        "compute flavor": request(urls["compute"], "POST",
                                  {"X-Auth-Token": issue_admin(settings), **json_type},
                                  DEEP_JSON, path="/v2.1/flavors"),
    }
    heartbeat = "/internal/v1/hosts/hv-deep"
    replies["compute internal (signed)"] = request(
        urls["compute"], "PUT", sign_headers(settings.service_secret, "PUT", API_TARGET,
                                             heartbeat, DEEP_JSON), DEEP_JSON, path=heartbeat)
    build = "/v1/instances/00000000-0000-4000-8000-000000000000"
    replies["agent build (signed)"] = request(
        urls["agent"], "POST", sign_headers(settings.service_secret, "POST",
                                          agent_target("hv1"), build, DEEP_JSON),
        DEEP_JSON, path=build)
    for what, reply in replies.items():
        assert one_line_4xx(reply), (what, reply.status, reply.body[:200])
        assert reply.status == 400, (what, reply.status, reply.body[:200])
    assert not exists(cluster, token, f"{path}/deep")
    hosts = request(urls["compute"], "GET", {"X-Auth-Token": issue_admin(settings)},
                    path="/v2.1/os-hypervisors")
    assert "hv-deep" not in hosts.body.decode()


def issue_admin(settings: CloudSettings) -> str:
    from common.tokens import issue_token

    return issue_token(settings.token_secret, "admin", "admin:admin",
                       [".admin", ".reseller_admin"])[0]


# ---- item 6: large objects on the real cluster ----------------------------------------

def test_slo_cycle_and_self_referencing_dlo_on_the_cluster(cluster, account):
    token, path = account
    auth = {"X-Auth-Token": token}
    container = path.rsplit("/", 1)[1]

    def slo(name, segment):
        manifest = json.dumps([{"path": f"/{container}/{segment}", "etag": None,
                                "size_bytes": None}]).encode()
        return request(cluster.proxy_url, "PUT", auth, manifest,
                       path=f"{path}/{name}?multipart-manifest=put")

    assert request(cluster.proxy_url, "PUT", auth, b"plain", path=f"{path}/a").status == 201
    assert slo("b", "a").status == 201
    assert slo("a", "b").status == 201
    for headers in ({}, {"Range": "bytes=2-4"}):
        reply = request(cluster.proxy_url, "GET", {**auth, **headers}, path=f"{path}/a")
        assert reply.status == 409 and b"manifest cycle" in reply.body, reply
        assert one_line_4xx(reply)
    assert request(cluster.proxy_url, "PUT", auth, b"seg", path=f"{path}/d-1").status == 201
    put = request(cluster.proxy_url, "PUT", {**auth, "X-Object-Manifest": f"{container}/d"},
                  b"[m]", path=f"{path}/d")
    assert put.status == 201
    reply = request(cluster.proxy_url, "GET", auth, path=f"{path}/d")
    assert reply.status == 200 and reply.body == b"[m]seg"


def test_bad_chunked_bodies_are_4xx_on_every_body_reading_service(cluster, account):
    token, path = account
    settings = CloudSettings.of(cluster)
    urls = endpoints(cluster)
    device = cluster.layout.device_name(1)
    heads = {
        "proxy": f"PUT {path}/badchunk HTTP/1.1\r\nX-Auth-Token: {token}\r\n",
        "object": f"PUT /{device}/1/AUTH_test/c/badchunk HTTP/1.1\r\n"
                  "X-Timestamp: 1700000000.00000\r\n",
        "image": f"POST /v2/images HTTP/1.1\r\nX-Auth-Token: {token}\r\n"
                 "Content-Type: application/json\r\n",
        "compute": f"POST /v2.1/servers HTTP/1.1\r\nX-Auth-Token: {settings_token(settings)}"
                   "\r\nContent-Type: application/json\r\n",
    }
    for service, head in heads.items():
        answer, closed = send_and_watch_close(urls[service], (
            head + "Host: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        ).encode() + b"5\r\nhello\r\nZZ\r\nnot hex\r\n")
        statuses = status_lines(answer)
        assert closed and len(statuses) == 1 and 400 <= statuses[0] < 500, (service, answer)
    assert not exists(cluster, token, f"{path}/badchunk")
