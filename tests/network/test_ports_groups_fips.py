"""In-process tests of `/v2.0/ports`, `/v2.0/security-groups`, `/v2.0/security-group-rules`
and `/v2.0/floatingips`: allocation (next free, a chosen address, exhaustion 409 with no port
left behind), MACs, the default group and its rules, rule validation and duplicates, floating
IP allocation, association, disassociation and release, and the issue's bad-input cases."""
from __future__ import annotations

import pytest

from tests.network.conftest import neutron_error


@pytest.fixture
def net(alice):
    network = alice.create("networks", "network", name="net")
    subnet = alice.create("subnets", "subnet", network_id=network["id"], cidr="10.0.0.0/29")
    return network, subnet


@pytest.fixture
def public(admin):
    network = admin.create("networks", "network", name="public", **{"router:external": True})
    subnet = admin.create("subnets", "subnet", network_id=network["id"],
                          cidr="203.0.113.0/29", enable_dhcp=False,
                          allocation_pools=[{"start": "203.0.113.2", "end": "203.0.113.3"}])
    return network, subnet


def ports_of(client, network_id):
    return client.get(f"/v2.0/ports?network_id={network_id}")[2]["ports"]


def test_ports_get_the_next_free_address_then_409_and_nothing_half_created(alice, net):
    network, subnet = net
    got = [alice.create("ports", "port", network_id=network["id"])["fixed_ips"][0]
           ["ip_address"] for _ in range(5)]
    assert got == [f"10.0.0.{i}" for i in range(2, 7)]
    status, _, doc = alice.post("/v2.0/ports", {"port": {"network_id": network["id"],
                                                         "name": "too-many"}})
    assert status == 409 and neutron_error(doc) == "IpAddressGenerationFailure"
    assert len(ports_of(alice, network["id"])) == 5
    assert all(p["name"] != "too-many" for p in ports_of(alice, network["id"]))


def test_a_chosen_address_its_conflicts_and_its_limits(alice, net):
    network, subnet = net
    port = alice.create("ports", "port", network_id=network["id"],
                        fixed_ips=[{"ip_address": "10.0.0.5"}])
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.5"}]
    cases = [([{"ip_address": "10.0.0.5"}], 409, "IpAddressAlreadyAllocated"),
             ([{"ip_address": "10.0.0.1"}], 409, "IpAddressInUse"),
             ([{"subnet_id": subnet["id"], "ip_address": "10.0.0.7"}], 400,
              "InvalidIpForSubnet"),
             ([{"ip_address": "10.9.9.9"}], 400, "InvalidIpForNetwork"),
             ([{"subnet_id": "nope"}], 400, "InvalidInput"),
             ([{"ip_address": "banana"}], 400, "HTTPBadRequest"),
             ([{}], 400, "HTTPBadRequest"),
             ("10.0.0.3", 400, "HTTPBadRequest")]
    for fixed_ips, status, kind in cases:
        got, _, doc = alice.post("/v2.0/ports", {"port": {"network_id": network["id"],
                                                          "fixed_ips": fixed_ips}})
        assert (got, neutron_error(doc)) == (status, kind), (fixed_ips, doc)
    assert len(ports_of(alice, network["id"])) == 1
    # the automatic choice skips the address taken by hand
    following = [alice.create("ports", "port", network_id=network["id"])["fixed_ips"][0]
                 ["ip_address"] for _ in range(4)]
    assert following == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.6"]


def test_port_on_another_projects_network_is_404_shared_is_fine(admin, alice, bob, net):
    network, _ = net
    status, _, doc = bob.post("/v2.0/ports", {"port": {"network_id": network["id"]}})
    assert status == 404 and neutron_error(doc) == "NetworkNotFound"
    assert len(ports_of(alice, network["id"])) == 0
    shared = admin.create("networks", "network", shared=True)
    admin.create("subnets", "subnet", network_id=shared["id"], cidr="10.50.0.0/24")
    port = bob.create("ports", "port", network_id=shared["id"])
    assert port["project_id"] == "bob"
    assert alice.get(f"/v2.0/ports/{port['id']}")[0] == 404
    assert alice.delete(f"/v2.0/ports/{port['id']}")[0] == 404


def test_macs_generated_unique_or_chosen(alice, admin, net):
    network, _ = net
    port = alice.create("ports", "port", network_id=network["id"], mac_address="FA:16:3E:AA:BB:CC")
    assert port["mac_address"] == "fa:16:3e:aa:bb:cc"
    status, _, doc = alice.post("/v2.0/ports", {"port": {"network_id": network["id"],
                                                         "mac_address": "fa:16:3e:aa:bb:cc"}})
    assert status == 409 and neutron_error(doc) == "MacAddressInUse"
    for bad in ("01:00:5e:00:00:01", "zz:zz", "00:00:00:00:00:00", 5):
        status, _, doc = alice.post("/v2.0/ports", {"port": {"network_id": network["id"],
                                                             "mac_address": bad}})
        assert status == 400, bad
    auto = alice.create("ports", "port", network_id=network["id"])
    assert auto["mac_address"].startswith("fa:16:3e:")


def test_port_update_fixed_ips_groups_and_binding(alice, admin, net):
    network, subnet = net
    port = alice.create("ports", "port", network_id=network["id"], device_id="vm-1",
                        device_owner="compute:nova")
    assert port["status"] == "DOWN" and port["binding:vif_type"] == "unbound"
    status, _, doc = alice.put(f"/v2.0/ports/{port['id']}", {"port": {
        "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.0.0.6"}]}})
    assert status == 200 and doc["port"]["fixed_ips"][0]["ip_address"] == "10.0.0.6"
    status, _, _ = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "h"}})
    assert status == 403
    status, _, doc = admin.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "h"}})
    assert doc["port"]["binding:host_id"] == "h" and doc["port"]["status"] == "ACTIVE"
    status, _, doc = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"network_id": "x"}})
    assert status == 400
    status, _, doc = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": []}})
    assert doc["port"]["security_groups"] == []
    status, _, doc = alice.put(f"/v2.0/ports/{port['id']}", {"port": {
        "port_security_enabled": False, "security_groups": ["x"]}})
    assert status == 400
    assert alice.get("/v2.0/ports?device_id=vm-1")[2]["ports"][0]["id"] == port["id"]
    assert alice.get("/v2.0/ports?fixed_ips=ip_address%3D10.0.0.6")[2]["ports"][0]["id"] == \
        port["id"]


def test_default_group_created_on_first_use_with_neutron_rules(alice, bob, net):
    network, _ = net
    port = alice.create("ports", "port", network_id=network["id"])
    groups = alice.get("/v2.0/security-groups")[2]["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert port["security_groups"] == [default["id"]]
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"])
             for r in default["security_group_rules"]}
    assert rules == {("egress", "IPv4", None), ("egress", "IPv6", None),
                     ("ingress", "IPv4", default["id"]), ("ingress", "IPv6", default["id"])}
    status, _, doc = alice.delete(f"/v2.0/security-groups/{default['id']}")
    assert status == 409 and neutron_error(doc) == "SecurityGroupCannotRemoveDefault"
    status, _, doc = alice.put(f"/v2.0/security-groups/{default['id']}",
                               {"security_group": {"name": "other"}})
    assert status == 409
    status, _, doc = alice.post("/v2.0/security-groups", {"security_group": {"name": "default"}})
    assert status == 409
    assert bob.get(f"/v2.0/security-groups/{default['id']}")[0] == 404
    assert [g["name"] for g in bob.get("/v2.0/security-groups")[2]["security_groups"]] == \
        ["default"]


def test_group_rules_validation_duplicates_and_in_use(alice, bob, net):
    network, _ = net
    web = alice.create("security-groups", "security_group", name="web")
    assert {r["direction"] for r in web["security_group_rules"]} == {"egress"}
    rule = alice.create("security-group-rules", "security_group_rule",
                        security_group_id=web["id"], direction="ingress", protocol="tcp",
                        port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    status, _, doc = alice.post("/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": web["id"], "direction": "ingress", "protocol": "6",
        "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}})
    assert status == 409 and neutron_error(doc) == "SecurityGroupRuleExists"
    assert rule["id"] in doc["NeutronError"]["message"]
    bad = [{"direction": "up"}, {"direction": "ingress", "port_range_min": 22},
           {"direction": "ingress", "protocol": "tcp", "port_range_min": 90,
            "port_range_max": 80},
           {"direction": "ingress", "protocol": "tcp", "port_range_min": 0,
            "port_range_max": 0},
           {"direction": "ingress", "protocol": "icmp", "port_range_max": 0},
           {"direction": "ingress", "protocol": "bogus"},
           {"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8",
            "remote_group_id": web["id"]},
           {"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
           {"direction": "ingress", "remote_ip_prefix": "nope"},
           {"direction": "ingress", "surprise": 1}]
    for body in bad:
        status, _, doc = alice.post("/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": web["id"], **body}})
        assert status == 400, (body, doc)
    theirs = bob.create("security-groups", "security_group", name="theirs")
    status, _, doc = alice.post("/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": theirs["id"], "direction": "ingress"}})
    assert status == 404 and neutron_error(doc) == "SecurityGroupNotFound"
    status, _, doc = alice.post("/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": web["id"], "direction": "ingress",
        "remote_group_id": theirs["id"]}})
    assert status == 404
    port = alice.create("ports", "port", network_id=network["id"],
                        security_groups=[web["id"]])
    status, _, doc = alice.delete(f"/v2.0/security-groups/{web['id']}")
    assert status == 409 and neutron_error(doc) == "SecurityGroupInUse"
    status, _, doc = alice.post("/v2.0/ports", {"port": {"network_id": network["id"],
                                                         "security_groups": [theirs["id"]]}})
    assert status == 404
    assert alice.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert alice.delete(f"/v2.0/security-group-rules/{rule['id']}")[0] == 204
    assert alice.delete(f"/v2.0/security-groups/{web['id']}")[0] == 204
    rules = alice.get(f"/v2.0/security-group-rules?security_group_id={web['id']}")[2]
    assert rules["security_group_rules"] == []


def test_floating_ip_lifecycle(alice, bob, net, public):
    network, _ = net
    ext, ext_subnet = public
    port = alice.create("ports", "port", network_id=network["id"])
    fip = alice.create("floatingips", "floatingip", floating_network_id=ext["id"])
    assert fip["floating_ip_address"] == "203.0.113.2" and fip["status"] == "DOWN"
    assert fip["port_id"] is None and fip["project_id"] == "alice"
    status, _, doc = alice.put(f"/v2.0/floatingips/{fip['id']}",
                               {"floatingip": {"port_id": port["id"]}})
    assert status == 200 and doc["floatingip"]["fixed_ip_address"] == "10.0.0.2"
    assert doc["floatingip"]["port_details"]["network_id"] == network["id"]
    second = alice.create("floatingips", "floatingip", floating_network_id=ext["id"])
    status, _, doc = alice.put(f"/v2.0/floatingips/{second['id']}",
                               {"floatingip": {"port_id": port["id"]}})
    assert status == 409 and neutron_error(doc) == "FloatingIPPortAlreadyAssociated"
    status, _, doc = alice.post("/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"]}})
    assert status == 409 and neutron_error(doc) == "IpAddressGenerationFailure"
    assert bob.get(f"/v2.0/floatingips/{fip['id']}")[0] == 404
    assert bob.get("/v2.0/floatingips")[2]["floatingips"] == []
    status, _, doc = alice.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    assert doc["floatingip"]["port_id"] is None and doc["floatingip"]["fixed_ip_address"] is None
    alice.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": port["id"]}})
    assert alice.delete(f"/v2.0/ports/{port['id']}")[0] == 204  # disassociates
    assert alice.get(f"/v2.0/floatingips/{fip['id']}")[2]["floatingip"]["port_id"] is None
    assert alice.delete(f"/v2.0/floatingips/{fip['id']}")[0] == 204
    again = alice.create("floatingips", "floatingip", floating_network_id=ext["id"])
    assert again["floating_ip_address"] == "203.0.113.2"  # released and reused


def test_floating_ip_bad_requests(admin, alice, bob, net, public):
    network, _ = net
    ext, _ = public
    status, _, doc = alice.post("/v2.0/floatingips", {"floatingip": {
        "floating_network_id": network["id"]}})
    assert status == 400
    status, _, doc = alice.post("/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "floating_ip_address": "203.0.113.1"}})
    assert status == 403
    theirs = bob.create("networks", "network")
    bob.create("subnets", "subnet", network_id=theirs["id"], cidr="10.0.0.0/29")
    bob_port = bob.create("ports", "port", network_id=theirs["id"])
    status, _, doc = alice.post("/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": bob_port["id"]}})
    assert status == 404 and neutron_error(doc) == "PortNotFound"
    assert alice.get("/v2.0/floatingips")[2]["floatingips"] == []
    fip_ports = admin.get(f"/v2.0/ports?network_id={ext['id']}")[2]["ports"]
    assert fip_ports == []  # nothing half-created
    status, _, doc = alice.post("/v2.0/floatingips", {"floatingip": {
        "floating_network_id": "nope"}})
    assert status == 404 and neutron_error(doc) == "NetworkNotFound"
    chosen = admin.create("floatingips", "floatingip", floating_network_id=ext["id"],
                          floating_ip_address="203.0.113.5", project_id="alice")
    assert chosen["project_id"] == "alice"
    fip_port = admin.get(f"/v2.0/ports?device_id={chosen['id']}")[2]["ports"][0]
    assert fip_port["device_owner"] == "network:floatingip"
    status, _, doc = admin.delete(f"/v2.0/ports/{fip_port['id']}")
    assert status == 409
    status, _, doc = admin.delete(f"/v2.0/networks/{ext['id']}")
    assert status == 409 and neutron_error(doc) == "NetworkInUse"


def test_unknown_routes_and_methods(alice):
    status, headers, doc = alice.call("PATCH", "/v2.0/networks")
    assert status == 405 and "GET" in headers["Allow"]
    neutron_error(doc)
    status, _, doc = alice.get("/v2.0/routers")
    assert status == 404 and neutron_error(doc) == "HTTPNotFound"
    assert alice.call("PUT", "/v2.0/security-group-rules/x", body={})[0] == 405


def test_network_device_owner_is_for_the_networks_owner(admin, alice, bob):
    shared = admin.create("networks", "network", shared=True)
    admin.create("subnets", "subnet", network_id=shared["id"], cidr="10.60.0.0/24")
    status, _, _ = bob.post("/v2.0/ports", {"port": {"network_id": shared["id"],
                                                     "device_owner": "network:dhcp"}})
    assert status == 403
    mine = alice.create("networks", "network")
    port = alice.create("ports", "port", network_id=mine["id"], device_owner="network:dhcp")
    assert port["device_owner"] == "network:dhcp"
