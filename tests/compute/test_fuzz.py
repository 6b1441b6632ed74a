"""Fuzzing the compute API and a compute agent in-process: no bad input gets a 5xx.

The compute API is built from a config the way the runner builds it (temp SQLite, the
session cluster's real image service and token secret, builds run inline); one host is
registered and one server booted so requests reach real rows. The agent is the real
`AgentApp` on libvirt's test driver, its heartbeats left off. The fuzzer breaks valid
requests of every kind drawn by `tests.shared.http_fuzz`; internal and agent requests are
re-signed with the service secret half of the time after being broken, so the broken part
reaches the handler behind the signature check. Any URL a broken body carries is pointed
at a closed loopback port: nothing leaves this machine.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from webob import Request

from compute.api.app import ComputeAPI, build_core
from compute.config import load_agent_config, load_api_config
from compute.service_auth import (
    API_TARGET,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TARGET_HEADER,
    TIME_HEADER,
    agent_target,
    sign_headers,
)
from tests.compute.support import free_port
from tests.shared.http_fuzz import (
    FUZZ_SETTINGS,
    FuzzRequest,
    FuzzSpec,
    assert_handled,
    classic_breakages,
    mutated,
)

SECRET = "fuzz-service-secret"
SERVER_FIELDS = ["server", "name", "imageRef", "flavorRef", "metadata", "availability_zone",
                 "min_count", "max_count", "flavor", "ram", "vcpus", "disk", "id",
                 "os-flavor-access:is_public", "quota_set", "instances", "cores", "reboot",
                 "type", "os-start", "os-stop", "os-getConsoleOutput", "length", "status",
                 "disabled_reason", "host", "event", "power_state", "message", "retry",
                 "boot_id", "vcpus", "memory_mb", "local_gb", "agent_url", "building",
                 "hypervisor_type", "instance", "image_meta", "action", "hard"]


def loopback_urls(doc, closed_url: str):
    """`doc` with every string that looks like a URL replaced by a closed loopback one."""
    if isinstance(doc, dict):
        return {key: loopback_urls(value, closed_url) for key, value in doc.items()}
    if isinstance(doc, list):
        return [loopback_urls(value, closed_url) for value in doc]
    if isinstance(doc, str) and ("://" in doc or doc.lower().startswith("http")):
        return closed_url
    return doc


def confine(request_: FuzzRequest, closed_url: str) -> FuzzRequest:
    if request_.body and len(request_.body) < 10000:
        try:
            doc = json.loads(request_.body)
        except (ValueError, RecursionError):
            return request_
        request_.body = json.dumps(loopback_urls(doc, closed_url)).encode(
            "utf-8", "surrogatepass")
    return request_


AGENT_TARGET = agent_target("hv-fuzz")


def resign(request_: FuzzRequest, receiver: str = API_TARGET) -> FuzzRequest:
    """Sign the request for `receiver` as the peer would, over the path the server computes.

    Every signature carries a fresh nonce, so a re-signed request is never a replay.
    """
    webob_request = Request(request_.environ())
    try:
        target = webob_request.path_qs if request_.query else webob_request.path
    except UnicodeDecodeError:
        return request_
    request_.headers.update(sign_headers(SECRET, request_.method, receiver, target,
                                         request_.body or b""))
    return request_


@pytest.fixture(scope="module")
def compute_app(cloud_settings, images, tmp_path_factory):
    root = tmp_path_factory.mktemp("compute-fuzz")
    closed = f"http://127.0.0.1:{free_port()}"
    conf_path = root / "compute-api.conf"
    conf_path.write_text(
        "[compute-api]\n"
        f"db_path = {root / 'compute.db'}\n"
        f"token_secret = {cloud_settings.token_secret}\n"
        f"service_secret = {SECRET}\n"
        f"image_url = {cloud_settings.image_url}\n"
        "agent_timeout = 2\n"
    )
    core = build_core(load_api_config(str(conf_path)), spawn=lambda fn, *args: fn(*args))
    app = ComputeAPI(core)
    user = cloud_settings.token("fuzz", "alice")
    admin = cloud_settings.token("admin", "admin", admin=True)
    report = {"availability_zone": "nova", "agent_url": closed, "boot_id": "b1",
              "hypervisor_type": "TEST", "vcpus": 4, "memory_mb": 2048, "local_gb": 40,
              "instances": {}, "building": []}
    heartbeat = resign(FuzzRequest("PUT", "/internal/v1/hosts/hv-fuzz", "", {},
                                   json.dumps(report).encode()))
    assert Request(heartbeat.environ()).get_response(app).status_int == 200
    boot = Request.blank("/v2.1/servers", method="POST", headers={"X-Auth-Token": user},
                         body=json.dumps({"server": {"name": "vm", "imageRef": images["active"],
                                                     "flavorRef": "1"}}).encode())
    booted = boot.get_response(app)
    assert booted.status_int == 202, booted.body
    yield app, user, admin, booted.json["server"]["id"], images["active"], report, closed
    core.db.close()


def api_bases(user, admin, server_id, image_id, report) -> list[FuzzRequest]:
    auth = {"X-Auth-Token": user, "Content-Type": "application/json"}
    admin_auth = {"X-Auth-Token": admin, "Content-Type": "application/json"}

    def body(doc) -> bytes:
        return json.dumps(doc).encode()

    return [
        FuzzRequest("GET", "/"),
        FuzzRequest("GET", "/v2.1"),
        FuzzRequest("GET", "/v2.1/flavors/detail", "is_public=none", admin_auth),
        FuzzRequest("GET", "/v2.1/flavors/1", "", auth),
        FuzzRequest("POST", "/v2.1/flavors", "", admin_auth, body({"flavor": {
            "name": "f", "ram": 64, "vcpus": 1, "disk": 1, "id": "fz",
            "os-flavor-access:is_public": False}})),
        FuzzRequest("DELETE", "/v2.1/flavors/fz", "", admin_auth),
        FuzzRequest("POST", "/v2.1/servers", "", auth, body({"server": {
            "name": "vm2", "imageRef": image_id, "flavorRef": "1", "metadata": {"a": "b"},
            "availability_zone": "nova"}})),
        FuzzRequest("GET", "/v2.1/servers/detail", "name=v.*&status=ERROR&limit=2", auth),
        FuzzRequest("GET", "/v2.1/servers", "all_tenants=1&marker=" + server_id, admin_auth),
        FuzzRequest("GET", f"/v2.1/servers/{server_id}", "", auth),
        FuzzRequest("POST", f"/v2.1/servers/{server_id}/action", "", auth,
                    body({"reboot": {"type": "HARD"}})),
        FuzzRequest("POST", f"/v2.1/servers/{server_id}/action", "", auth,
                    body({"os-getConsoleOutput": {"length": 5}})),
        FuzzRequest("GET", f"/v2.1/servers/{server_id}/diagnostics", "", admin_auth),
        FuzzRequest("GET", "/v2.1/os-hypervisors/detail", "", admin_auth),
        FuzzRequest("GET", "/v2.1/os-hypervisors/1", "", admin_auth),
        FuzzRequest("GET", "/v2.1/os-services", "host=hv-fuzz", admin_auth),
        FuzzRequest("PUT", "/v2.1/os-services/1", "", admin_auth,
                    body({"status": "disabled", "disabled_reason": "fuzz"})),
        FuzzRequest("GET", "/v2.1/os-quota-sets/fuzz", "usage=true", auth),
        FuzzRequest("PUT", "/v2.1/os-quota-sets/fuzz", "", admin_auth,
                    body({"quota_set": {"instances": 3, "cores": 8}})),
        FuzzRequest("GET", "/v2.1/os-simple-tenant-usage", "start=2020-01-01T00:00:00&"
                    "end=2030-01-01T00:00:00&detailed=1", admin_auth),
        FuzzRequest("GET", "/v2.1/os-simple-tenant-usage/fuzz", "", auth),
        FuzzRequest("PUT", "/internal/v1/hosts/hv-fuzz", "", {}, body(report)),
        FuzzRequest("POST", f"/internal/v1/servers/{server_id}/events", "", {}, body({
            "host": "hv-fuzz", "event": "build_failed", "message": "m", "retry": False})),
        FuzzRequest("DELETE", f"/v2.1/servers/{server_id}", "", auth),
    ]


def spec(tokens: list[str], ids: list[str]) -> FuzzSpec:
    return FuzzSpec(
        segments=["v2.1", "servers", "detail", "action", "diagnostics", "flavors",
                  "os-hypervisors", "os-services", "os-quota-sets", "defaults",
                  "os-simple-tenant-usage", "internal", "v1", "hosts", "events", "hv-fuzz",
                  "fuzz", "1", *ids],
        header_names=["X-Auth-Token", "Content-Type", TIME_HEADER, SIGNATURE_HEADER,
                      NONCE_HEADER, TARGET_HEADER,
                      "Accept", "OpenStack-API-Version", "X-OpenStack-Nova-API-Version"],
        likely_values={"X-Auth-Token": st.sampled_from(tokens + [tokens[0] + "x"]),
                       TIME_HEADER: st.sampled_from(["nan", "inf", "-1", "1e999"])},
        query_keys=["limit", "marker", "name", "status", "all_tenants", "deleted",
                    "project_id", "tenant_id", "host", "is_public", "usage", "start", "end",
                    "detailed", "length"],
        queries=["limit=1", "all_tenants=1", "name=(a+)+$", "is_public=none",
                 "start=2020-01-01&end=2019-01-01"],
        json_keys=SERVER_FIELDS,
        methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "X"],
    )


@FUZZ_SETTINGS
@given(data=st.data())
def test_compute_api_answers_bad_input_below_500(compute_app, data):
    app, user, admin, server_id, image_id, report, closed = compute_app
    request_ = data.draw(mutated(api_bases(user, admin, server_id, image_id, report),
                                 spec([user, admin], [server_id, image_id])))
    request_ = confine(request_, closed)
    if request_.path.startswith("/internal/") and data.draw(st.booleans()):
        request_ = resign(request_)
    assert_handled(app, request_)


def test_compute_api_answers_classic_breakages_below_500(compute_app):
    app, user, admin, server_id, image_id, report, _closed = compute_app
    for broken in classic_breakages(api_bases(user, admin, server_id, image_id, report)):
        assert_handled(app, broken)
        if broken.path.startswith("/internal/"):
            assert_handled(app, resign(broken))


@pytest.fixture(scope="module")
def agent_app(cloud_settings, tmp_path_factory):
    from common.green import eventlet
    from compute.agent import Agent
    from compute.agent_server import AgentApp
    from compute.driver import LibvirtDriver
    from compute.guest_builders import make_guest_builder

    root = tmp_path_factory.mktemp("agent-fuzz")
    conf_path = root / "compute-agent.conf"
    conf_path.write_text(
        "[server]\napp = compute.agent_server:make_app\nbind_port = 1\n\n"
        "[compute-agent]\nhost = hv-fuzz\n"
        f"api_url = http://127.0.0.1:{free_port()}\nservice_secret = {SECRET}\n"
        f"libvirt_uri = test:///default\ninstances_dir = {root / 'instances'}\n"
        f"image_url = {cloud_settings.image_url}\nauth_url = {cloud_settings.auth_url}\n"
        "vcpus = 4\nmemory_mb = 2048\nlocal_gb = 40\n"
    )
    conf = load_agent_config(str(conf_path))
    driver = LibvirtDriver(conf["libvirt_uri"], conf["instances_dir"],
                           make_guest_builder(conf, sleep=eventlet.sleep),
                           stop_timeout=conf["stop_timeout"])
    return AgentApp(Agent(conf, driver, eventlet), SECRET)


def agent_bases() -> list[FuzzRequest]:
    server_id = "0" * 8 + "-0000-4000-8000-" + "0" * 12

    def body(doc) -> bytes:
        return json.dumps(doc).encode()

    return [resign(request_, AGENT_TARGET) for request_ in [
        FuzzRequest("GET", "/v1/instances"),
        FuzzRequest("POST", f"/v1/instances/{server_id}/action", "", {},
                    body({"action": "stop", "hard": True})),
        FuzzRequest("DELETE", f"/v1/instances/{server_id}"),
        FuzzRequest("GET", f"/v1/instances/{server_id}/console", "length=5"),
        FuzzRequest("GET", f"/v1/instances/{server_id}/diagnostics"),
        FuzzRequest("POST", f"/v1/instances/{server_id}", "", {}, body({
            "instance": {"id": "not-" + server_id}, "flavor": {}, "image_meta": {}})),
    ]]


@FUZZ_SETTINGS
@given(data=st.data())
def test_compute_agent_answers_bad_input_below_500(agent_app, data):
    request_ = data.draw(mutated(agent_bases(), spec(["none"], [])))
    if data.draw(st.booleans()):
        request_ = resign(request_, AGENT_TARGET)
    assert_handled(agent_app, request_)


def test_compute_agent_answers_classic_breakages_below_500(agent_app):
    for broken in classic_breakages(agent_bases()):
        assert_handled(agent_app, broken)
        assert_handled(agent_app, resign(broken, AGENT_TARGET))
