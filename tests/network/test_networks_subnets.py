"""In-process tests of `/`, `/v2.0/extensions`, `/v2.0/networks` and `/v2.0/subnets`: shapes,
roles, visibility (another project's resource is a 404), validation (400), overlaps, in-use
deletes (409), list filters, fields, sorting and paging, and the config's checks."""
from __future__ import annotations

import pytest

from common.config import ConfigError
from tests.network.conftest import Client, mint, neutron_error, write_conf


def test_version_discovery_needs_no_token_and_the_rest_does(app):
    client = Client(app)
    status, _, doc = client.get("/")
    assert status == 200 and doc["versions"][0]["id"] == "v2.0"
    status, headers, doc = client.get("/v2.0/networks")
    assert status == 401 and neutron_error(doc) == "HTTPUnauthorized"
    for token in (mint("p", expires_in=-1), mint("p", secret="other-secret"),
                  mint("p", scope_kind="domain"), "garbage"):
        assert client.get("/v2.0/networks", token=token)[0] == 401


def test_extensions_listed_and_shown(alice):
    status, _, doc = alice.get("/v2.0/extensions")
    aliases = {ext["alias"] for ext in doc["extensions"]}
    assert {"external-net", "security-group", "binding", "port-security"} <= aliases
    assert alice.get("/v2.0/extensions/external-net")[2]["extension"]["alias"] == \
        "external-net"
    status, _, doc = alice.get("/v2.0/extensions/router")
    assert status == 404 and neutron_error(doc) == "HTTPNotFound"


def test_network_crud_and_shape(alice):
    net = alice.create("networks", "network", name="n1", description="d")
    assert net["project_id"] == net["tenant_id"] == "alice"
    assert net["status"] == "ACTIVE" and net["shared"] is False
    assert net["router:external"] is False and net["subnets"] == []
    status, _, doc = alice.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "n2"}})
    assert status == 200 and doc["network"]["name"] == "n2"
    assert doc["network"]["revision_number"] == 1
    assert alice.get(f"/v2.0/networks/{net['id']}?fields=name")[2] == \
        {"network": {"name": "n2"}}
    assert alice.delete(f"/v2.0/networks/{net['id']}")[0] == 204
    status, _, doc = alice.get(f"/v2.0/networks/{net['id']}")
    assert status == 404 and neutron_error(doc) == "NetworkNotFound"


def test_shared_and_external_are_admin_only_and_visible_to_all(admin, alice, bob):
    for attr in ("shared", "router:external"):
        status, _, doc = alice.post("/v2.0/networks", {"network": {attr: True}})
        assert status == 403 and neutron_error(doc) == "PolicyNotAuthorized"
    public = admin.create("networks", "network", name="public", **{"router:external": True})
    shared = admin.create("networks", "network", name="shared", shared=True)
    private = alice.create("networks", "network", name="mine")
    bob_sees = {n["id"] for n in bob.get("/v2.0/networks")[2]["networks"]}
    assert bob_sees == {public["id"], shared["id"]}
    status, _, doc = bob.put(f"/v2.0/networks/{shared['id']}", {"network": {"name": "x"}})
    assert status == 403
    status, _, doc = bob.put(f"/v2.0/networks/{private['id']}", {"network": {"name": "x"}})
    assert status == 404 and neutron_error(doc) == "NetworkNotFound"
    assert bob.delete(f"/v2.0/networks/{private['id']}")[0] == 404
    assert len(admin.get("/v2.0/networks")[2]["networks"]) == 3
    status, _, doc = alice.put(f"/v2.0/networks/{private['id']}", {"network": {"shared": True}})
    assert status == 403


def test_reader_reads_but_cannot_write(alice, alice_reader):
    net = alice.create("networks", "network", name="n")
    assert alice_reader.get(f"/v2.0/networks/{net['id']}")[0] == 200
    assert alice_reader.post("/v2.0/networks", {"network": {"name": "x"}})[0] == 403
    assert alice_reader.delete(f"/v2.0/networks/{net['id']}")[0] == 403


def test_admin_creates_for_another_project_members_cannot(admin, alice):
    net = admin.create("networks", "network", name="for-bob", project_id="bob")
    assert net["project_id"] == "bob"
    status, _, doc = alice.post("/v2.0/networks", {"network": {"project_id": "bob"}})
    assert status == 403


@pytest.mark.parametrize("body", [
    {"network": {"name": 5}}, {"network": {"admin_state_up": "maybe"}},
    {"network": {"bogus": 1}}, {"network": []}, {"networks": {}}, {"network": {"mtu": 10}},
    {"network": {"project_id": []}}, {"network": {"project_id": "a", "tenant_id": "b"}},
])
def test_bad_network_bodies_are_400(alice, body):
    status, _, doc = alice.post("/v2.0/networks", body)
    assert status == 400, doc
    neutron_error(doc)


def test_malformed_json_is_400(alice):
    for raw in (b"{", b'{"network": {"name": NaN}}', b"\xff", b"[" * 5000):
        status, _, doc = alice.call("POST", "/v2.0/networks", raw=raw)
        assert status == 400 and neutron_error(doc) == "HTTPBadRequest"


def test_subnet_defaults_and_shape(alice):
    net = alice.create("networks", "network")
    sub = alice.create("subnets", "subnet", network_id=net["id"], cidr="192.168.5.0/24",
                       ip_version=4, name="s")
    assert sub["gateway_ip"] == "192.168.5.1"
    assert sub["allocation_pools"] == [{"start": "192.168.5.2", "end": "192.168.5.254"}]
    assert sub["enable_dhcp"] is True and sub["ip_version"] == 4
    assert alice.get(f"/v2.0/networks/{net['id']}")[2]["network"]["subnets"] == [sub["id"]]
    nogw = alice.create("subnets", "subnet", network_id=net["id"], cidr="192.168.6.0/29",
                        gateway_ip=None, dns_nameservers=["8.8.8.8"], enable_dhcp=False,
                        host_routes=[{"destination": "10.0.0.0/8", "nexthop": "192.168.6.1"}])
    assert nogw["gateway_ip"] is None
    assert nogw["allocation_pools"] == [{"start": "192.168.6.1", "end": "192.168.6.6"}]
    assert nogw["host_routes"] == [{"destination": "10.0.0.0/8", "nexthop": "192.168.6.1"}]


@pytest.mark.parametrize("extra, status, kind", [
    ({"cidr": "10.0.0.1/24"}, 400, "HTTPBadRequest"),
    ({"cidr": "10.0.0.0/33"}, 400, "HTTPBadRequest"),
    ({"cidr": "banana"}, 400, "HTTPBadRequest"),
    ({"cidr": "fd00::/64"}, 400, "HTTPBadRequest"),
    ({"cidr": "10.0.0.0/24", "ip_version": 6}, 400, "HTTPBadRequest"),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.1.1"}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.255"}, 400, "InvalidInput"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]},
     400, "InvalidAllocationPool"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.1.2"}]},
     400, "OutOfBoundsAllocationPool"),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"},
                                                  {"start": "10.0.0.9", "end": "10.0.0.20"}]},
     409, "OverlappingAllocationPools"),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.5",
      "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"}]},
     409, "GatewayConflictWithAllocationPools"),
    ({"cidr": "10.0.0.0/24", "dns_nameservers": ["1.1.1.1"] * 2}, 400, "HTTPBadRequest"),
    ({"cidr": "10.0.0.0/24", "dns_nameservers": [f"1.1.1.{i}" for i in range(6)]}, 400,
     "DNSNameServersExhausted"),
    ({"cidr": "10.0.0.0/24", "host_routes": [{"destination": "x", "nexthop": "1.1.1.1"}]},
     400, "HTTPBadRequest"),
    ({}, 400, "InvalidInput"),
])
def test_bad_subnets_are_refused_and_nothing_is_created(alice, extra, status, kind):
    net = alice.create("networks", "network")
    got, _, doc = alice.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], **extra}})
    assert (got, neutron_error(doc)) == (status, kind), doc
    assert alice.get("/v2.0/subnets")[2]["subnets"] == []


def test_overlapping_subnets_in_one_project_are_400_not_across_projects(alice, bob):
    one = alice.create("networks", "network")
    two = alice.create("networks", "network")
    alice.create("subnets", "subnet", network_id=one["id"], cidr="10.1.0.0/16")
    for net in (one, two):
        status, _, doc = alice.post("/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.1.2.0/24"}})
        assert status == 400 and "overlaps" in doc["NeutronError"]["message"]
    theirs = bob.create("networks", "network")
    bob.create("subnets", "subnet", network_id=theirs["id"], cidr="10.1.2.0/24")


def test_subnet_on_another_projects_network_is_404_on_a_shared_one_403(admin, alice, bob):
    private = alice.create("networks", "network")
    status, _, doc = bob.post("/v2.0/subnets", {"subnet": {"network_id": private["id"],
                                                            "cidr": "10.9.0.0/24"}})
    assert status == 404 and neutron_error(doc) == "NetworkNotFound"
    shared = admin.create("networks", "network", shared=True)
    status, _, doc = bob.post("/v2.0/subnets", {"subnet": {"network_id": shared["id"],
                                                            "cidr": "10.9.0.0/24"}})
    assert status == 403
    sub = alice.create("subnets", "subnet", network_id=private["id"], cidr="10.9.0.0/24")
    assert bob.get(f"/v2.0/subnets/{sub['id']}")[0] == 404
    assert bob.get("/v2.0/subnets")[2]["subnets"] == []


def test_subnet_update_and_read_only_attributes(alice):
    net = alice.create("networks", "network")
    sub = alice.create("subnets", "subnet", network_id=net["id"], cidr="10.2.0.0/24")
    status, _, doc = alice.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {
        "name": "x", "dns_nameservers": ["10.2.0.53"],
        "allocation_pools": [{"start": "10.2.0.100", "end": "10.2.0.200"}]}})
    assert status == 200
    assert doc["subnet"]["allocation_pools"] == [{"start": "10.2.0.100", "end": "10.2.0.200"}]
    status, _, doc = alice.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {"cidr": "10.3.0.0/24"}})
    assert status == 400
    port = alice.create("ports", "port", network_id=net["id"])
    taken = port["fixed_ips"][0]["ip_address"]
    status, _, doc = alice.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {"gateway_ip": taken}})
    assert status == 409 and neutron_error(doc) in ("GatewayIpInUse",
                                                    "GatewayConflictWithAllocationPools")


def test_in_use_network_and_subnet_are_409(alice):
    net = alice.create("networks", "network")
    sub = alice.create("subnets", "subnet", network_id=net["id"], cidr="10.4.0.0/24")
    port = alice.create("ports", "port", network_id=net["id"])
    status, _, doc = alice.delete(f"/v2.0/subnets/{sub['id']}")
    assert status == 409 and neutron_error(doc) == "SubnetInUse"
    status, _, doc = alice.delete(f"/v2.0/networks/{net['id']}")
    assert status == 409 and neutron_error(doc) == "NetworkInUse"
    assert alice.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert alice.delete(f"/v2.0/networks/{net['id']}")[0] == 204
    assert alice.get(f"/v2.0/subnets/{sub['id']}")[0] == 404


def test_list_filters_fields_sorting_and_paging(alice):
    ids = [alice.create("networks", "network", name=f"n{i}", admin_state_up=i % 2 == 0)["id"]
           for i in range(5)]
    doc = alice.get("/v2.0/networks?name=n1&name=n3")[2]
    assert sorted(n["name"] for n in doc["networks"]) == ["n1", "n3"]
    doc = alice.get("/v2.0/networks?admin_state_up=false&fields=name")[2]
    assert doc["networks"] == [{"name": "n1"}, {"name": "n3"}]
    doc = alice.get("/v2.0/networks?sort_key=name&sort_dir=desc&fields=name")[2]
    assert [n["name"] for n in doc["networks"]] == ["n4", "n3", "n2", "n1", "n0"]
    seen, path = [], "/v2.0/networks?limit=2"
    while path:
        doc = alice.get(path)[2]
        seen += [n["id"] for n in doc["networks"]]
        links = [link for link in doc.get("networks_links", []) if link["rel"] == "next"]
        path = links[0]["href"].replace("http://localhost", "") if links else None
    assert seen == ids
    assert alice.get("/v2.0/networks?sort_key=bogus")[0] == 400
    assert alice.get("/v2.0/networks?sort_dir=up&sort_key=name")[0] == 400
    assert alice.get("/v2.0/networks?limit=x")[0] == 400
    assert alice.get("/v2.0/networks?marker=nope")[0] == 404


def test_quota_is_409(tmp_path):
    from network.app import make_app

    client = Client(make_app(write_conf(tmp_path, network={"quota_network": "1"})),
                    mint("p"))
    client.create("networks", "network")
    status, _, doc = client.post("/v2.0/networks", {"network": {}})
    assert status == 409 and neutron_error(doc) == "OverQuota"


@pytest.mark.parametrize("options, words", [
    ({"mac_prefix": "ff:00"}, "mac_prefix"),
    ({"mac_prefix": "zz"}, "mac_prefix"),
    ({"public_url": "ftp://x"}, "public_url"),
    ({"quota_port": "-5"}, "quota_port"),
    ({"bogus": "1"}, "bogus"),
])
def test_config_errors_are_one_line(tmp_path, options, words):
    from network.app import make_app

    with pytest.raises(ConfigError) as caught:
        make_app(write_conf(tmp_path, network=options))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_dev_secret_refused_off_loopback(tmp_path):
    from network.app import make_app

    with pytest.raises(ConfigError):
        make_app(write_conf(tmp_path, network={"token_secret": "brume-dev-token-secret"},
                            server={"bind_ip": "0.0.0.0"}))
