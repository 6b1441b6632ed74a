"""Fuzzing the network API in-process (real SQLite store): no bad input gets a 5xx.

Valid requests of every kind (CRUD of networks, subnets, ports with fixed IPs, security
groups and rules, floating IPs; lists with filters, fields, sorting and paging) are broken
in one to three places by `tests.shared.http_fuzz`; each answer must be below 500, with a
one-line body, and log no traceback.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.network.conftest import Client, mint, write_conf
from tests.shared.http_fuzz import (
    FUZZ_SETTINGS,
    FuzzRequest,
    FuzzSpec,
    assert_handled,
    classic_breakages,
    mutated,
)

FIELDS = ["network", "subnet", "port", "security_group", "security_group_rule", "floatingip",
          "name", "description", "network_id", "cidr", "ip_version", "gateway_ip",
          "allocation_pools", "start", "end", "dns_nameservers", "host_routes", "destination",
          "nexthop", "enable_dhcp", "fixed_ips", "subnet_id", "ip_address", "mac_address",
          "device_id", "device_owner", "security_groups", "binding:host_id", "shared",
          "router:external", "admin_state_up", "mtu", "port_security_enabled", "direction",
          "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
          "remote_group_id", "security_group_id", "floating_network_id", "port_id",
          "fixed_ip_address", "floating_ip_address", "project_id", "tenant_id", "stateful"]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from network.app import make_app

    app = make_app(write_conf(tmp_path_factory.mktemp("network-fuzz")))
    admin_token = mint("admin", ("admin", "member", "reader"), user="admin")
    member_token = mint("fuzz")
    admin, member = Client(app, admin_token), Client(app, member_token)
    public = admin.create("networks", "network", name="public", **{"router:external": True})
    admin.create("subnets", "subnet", network_id=public["id"], cidr="198.51.100.0/24")
    net = member.create("networks", "network", name="net")
    subnet = member.create("subnets", "subnet", network_id=net["id"], cidr="10.0.0.0/16")
    port = member.create("ports", "port", network_id=net["id"])
    group = member.create("security-groups", "security_group", name="web")
    rule = group["security_group_rules"][0]
    fip = member.create("floatingips", "floatingip", floating_network_id=public["id"])
    ids = {"public": public["id"], "net": net["id"], "subnet": subnet["id"],
           "port": port["id"], "group": group["id"], "rule": rule["id"], "fip": fip["id"]}
    return app, admin_token, member_token, ids


def bases(admin, member, ids) -> list[FuzzRequest]:
    auth = {"X-Auth-Token": member, "Content-Type": "application/json"}
    as_admin = {"X-Auth-Token": admin, "Content-Type": "application/json"}

    def body(doc) -> bytes:
        return json.dumps(doc).encode()

    return [
        FuzzRequest("GET", "/"),
        FuzzRequest("GET", "/v2.0/extensions", "", auth),
        FuzzRequest("GET", "/v2.0/networks", "name=net&fields=id&sort_key=name&limit=1", auth),
        FuzzRequest("POST", "/v2.0/networks", "", auth,
                    body({"network": {"name": "n", "admin_state_up": True, "mtu": 1400}})),
        FuzzRequest("POST", "/v2.0/networks", "", as_admin,
                    body({"network": {"name": "e", "router:external": True, "shared": True,
                                      "project_id": "fuzz"}})),
        FuzzRequest("PUT", f"/v2.0/networks/{ids['net']}", "", auth,
                    body({"network": {"name": "x", "description": "y"}})),
        FuzzRequest("GET", f"/v2.0/subnets/{ids['subnet']}", "fields=cidr", auth),
        FuzzRequest("POST", "/v2.0/subnets", "", auth,
                    body({"subnet": {"network_id": ids["net"], "cidr": "10.9.0.0/24",
                                     "ip_version": 4, "gateway_ip": "10.9.0.1",
                                     "allocation_pools": [{"start": "10.9.0.10",
                                                           "end": "10.9.0.20"}],
                                     "dns_nameservers": ["10.9.0.53"],
                                     "host_routes": [{"destination": "10.8.0.0/16",
                                                      "nexthop": "10.9.0.1"}]}})),
        FuzzRequest("PUT", f"/v2.0/subnets/{ids['subnet']}", "", auth,
                    body({"subnet": {"allocation_pools": [{"start": "10.0.1.1",
                                                           "end": "10.0.1.9"}]}})),
        FuzzRequest("POST", "/v2.0/ports", "", auth,
                    body({"port": {"network_id": ids["net"], "name": "p",
                                   "fixed_ips": [{"subnet_id": ids["subnet"],
                                                  "ip_address": "10.0.3.4"}],
                                   "mac_address": "fa:16:3e:00:00:01",
                                   "security_groups": [ids["group"]]}})),
        FuzzRequest("PUT", f"/v2.0/ports/{ids['port']}", "", as_admin,
                    body({"port": {"binding:host_id": "h", "device_id": "d",
                                   "fixed_ips": [{"subnet_id": ids["subnet"]}]}})),
        FuzzRequest("GET", "/v2.0/ports", "fixed_ips=ip_address%3D10.0.0.2&device_id=", auth),
        FuzzRequest("POST", "/v2.0/security-groups", "", auth,
                    body({"security_group": {"name": "g", "description": "d"}})),
        FuzzRequest("PUT", f"/v2.0/security-groups/{ids['group']}", "", auth,
                    body({"security_group": {"name": "g2"}})),
        FuzzRequest("POST", "/v2.0/security-group-rules", "", auth,
                    body({"security_group_rule": {
                        "security_group_id": ids["group"], "direction": "ingress",
                        "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
                        "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}})),
        FuzzRequest("DELETE", f"/v2.0/security-group-rules/{ids['rule']}", "", auth),
        FuzzRequest("POST", "/v2.0/floatingips", "", auth,
                    body({"floatingip": {"floating_network_id": ids["public"],
                                         "port_id": ids["port"]}})),
        FuzzRequest("PUT", f"/v2.0/floatingips/{ids['fip']}", "", auth,
                    body({"floatingip": {"port_id": ids["port"],
                                         "fixed_ip_address": "10.0.0.2"}})),
        FuzzRequest("DELETE", f"/v2.0/ports/{ids['port']}", "", auth),
    ]


def spec(tokens: list[str], ids: dict) -> FuzzSpec:
    return FuzzSpec(
        segments=["v2.0", "networks", "subnets", "ports", "security-groups",
                  "security-group-rules", "floatingips", "extensions", *ids.values()],
        header_names=["X-Auth-Token", "Content-Type"],
        likely_values={"X-Auth-Token": st.sampled_from(tokens + [tokens[0][:-2]])},
        query_keys=["fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse",
                    "name", "network_id", "fixed_ips", "device_id", "admin_state_up", "id"],
        queries=["limit=0", "marker=x", "sort_dir=desc", "page_reverse=true&limit=1"],
        json_keys=FIELDS,
        methods=["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "X"],
    )


@FUZZ_SETTINGS
@given(data=st.data())
def test_network_api_answers_bad_input_below_500(fuzz_app, data):
    app, admin, member, ids = fuzz_app
    request_ = data.draw(mutated(bases(admin, member, ids), spec([admin, member], ids)))
    assert_handled(app, request_)


def test_network_api_answers_classic_breakages_below_500(fuzz_app):
    app, admin, member, ids = fuzz_app
    for broken in classic_breakages(bases(admin, member, ids)):
        assert_handled(app, broken)
