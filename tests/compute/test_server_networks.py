"""`networks` on server create, `addresses` in views and ports on delete: the in-process
compute API against the session cluster's REAL network service (ports made with the
caller's token), including the bad input that must leave nothing behind."""
from __future__ import annotations

import random
import uuid

import pytest

from compute import states
from tests.compute.support import http

pytestmark = pytest.mark.cluster


class Neutron:
    """The cluster's network service as one caller sees it."""

    def __init__(self, url: str, tok: str):
        self.url, self.tok = url, tok

    def call(self, method, path, body=None):
        return http(method, self.url + path, self.tok, body)

    def create(self, kind: str, **attrs) -> dict:
        status, body = self.call("POST", f"/v2.0/{kind}s", {kind: attrs})
        assert status == 201, (status, body)
        return body[kind]

    def ports(self, **filters) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        status, body = self.call("GET", f"/v2.0/ports?{query}")
        assert status == 200, body
        return body["ports"]

    def network_with_subnet(self, name: str, cidr: str, **subnet) -> dict:
        network = self.create("network", name=name)
        self.create("subnet", network_id=network["id"], cidr=cidr, ip_version=4, **subnet)
        return network


@pytest.fixture
def project(cloud_settings):
    """A fresh project (its own token) so the shared cluster's other networks stay out."""
    name = "net" + uuid.uuid4().hex[:10]
    return name, cloud_settings.token(name, "alice")


@pytest.fixture
def neutron(cluster, project):
    return Neutron(cluster.network_url, project[1])


def cidr24() -> str:
    return f"10.{random.randrange(1, 250)}.{random.randrange(1, 250)}.0/24"


def server_view(api, tok, server_id):
    status, body = api.call("GET", f"/v2.1/servers/{server_id}", tok)
    assert status == 200, body
    return body["server"]


def test_boot_on_a_network_makes_a_port_shown_in_addresses(net_api, project, neutron):
    _, tok = project
    network = neutron.network_with_subnet("blue", cidr24())
    status, body = net_api.boot(tok, networks=[{"uuid": network["id"]}])
    assert status == 202, body
    server_id = body["server"]["id"]
    [port] = neutron.ports(device_id=server_id)
    assert port["network_id"] == network["id"] and port["device_owner"] == "compute:nova"
    view = server_view(net_api, tok, server_id)
    assert view["addresses"] == {"blue": [{
        "version": 4, "addr": port["fixed_ips"][0]["ip_address"], "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]}]}
    listed = net_api.call("GET", "/v2.1/servers/detail", tok)[1]["servers"]
    assert listed[0]["addresses"] == view["addresses"]
    # The agent is told about the port in its build request.
    from compute.conductor import build_request
    nics = build_request(net_api.core.repo.get_server(server_id))["instance"]["network_info"]
    assert [n["port_id"] for n in nics] == [port["id"]]
    assert net_api.call("DELETE", f"/v2.1/servers/{server_id}", tok)[0] == 204
    assert neutron.ports(device_id=server_id) == []


def test_fixed_ip_an_existing_port_and_two_nics(net_api, project, neutron):
    _, tok = project
    cidr = cidr24()
    base = cidr.rsplit(".", 1)[0]
    red = neutron.network_with_subnet("red", cidr)
    green = neutron.network_with_subnet("green", cidr24())
    mine = neutron.create("port", network_id=green["id"], name="kept")
    status, body = net_api.boot(tok, networks=[
        {"uuid": red["id"], "fixed_ip": f"{base}.77"}, {"port": mine["id"]}])
    assert status == 202, body
    server_id = body["server"]["id"]
    view = server_view(net_api, tok, server_id)
    assert [a["addr"] for a in view["addresses"]["red"]] == [f"{base}.77"]
    assert view["addresses"]["green"][0]["addr"] == mine["fixed_ips"][0]["ip_address"]
    # The port given is in use now: a second server cannot take it.
    status, _ = net_api.boot(tok, name="thief", networks=[{"port": mine["id"]}])
    assert status == 409
    # Delete: the port compute made goes, the port the user gave stays, released.
    assert net_api.call("DELETE", f"/v2.1/servers/{server_id}", tok)[0] == 204
    left = neutron.ports()
    assert [p["id"] for p in left] == [mine["id"]]
    assert left[0]["device_id"] == "" and left[0]["device_owner"] == ""


def test_default_auto_and_none(net_api, project, neutron):
    _, tok = project
    status, body = net_api.boot(tok, name="nothing-yet")
    assert status == 202 and server_view(net_api, tok, body["server"]["id"])["addresses"] == {}
    assert net_api.boot(tok, networks="auto")[0] == 400
    only = neutron.network_with_subnet("only", cidr24())
    status, body = net_api.boot(tok, name="auto", networks="auto")
    assert status == 202
    assert list(server_view(net_api, tok, body["server"]["id"])["addresses"]) == ["only"]
    status, body = net_api.boot(tok, name="default")
    assert list(server_view(net_api, tok, body["server"]["id"])["addresses"]) == ["only"]
    status, body = net_api.boot(tok, name="none", networks="none")
    assert server_view(net_api, tok, body["server"]["id"])["addresses"] == {}
    neutron.network_with_subnet("second", cidr24())
    assert net_api.boot(tok, name="ambiguous")[0] == 409
    assert len(neutron.ports(network_id=only["id"])) == 2


def test_bad_networks_are_refused_and_leave_nothing(net_api, project, neutron,
                                                    cloud_settings, cluster):
    _, tok = project
    cidr = cidr24()
    base = cidr.rsplit(".", 1)[0]
    big = neutron.network_with_subnet("big", cidr)
    # A /29 holding one address: the first port takes it, the next finds the pool empty.
    tiny = neutron.network_with_subnet("tiny", "172.16.0.0/29", allocation_pools=[
        {"start": "172.16.0.2", "end": "172.16.0.2"}])
    neutron.create("port", network_id=tiny["id"], name="holder")
    other_name = "net" + uuid.uuid4().hex[:10]
    other = Neutron(cluster.network_url, cloud_settings.token(other_name, "bob"))
    foreign = other.network_with_subnet("theirs", cidr24())
    foreign_port = other.create("port", network_id=foreign["id"])
    missing = str(uuid.uuid4())
    cases = [
        ([{"uuid": foreign["id"]}], 404),
        ([{"port": foreign_port["id"]}], 404),
        ([{"uuid": missing}], 404),
        ([{"uuid": big["id"]}, {"uuid": tiny["id"]}], 409),  # exhausted: first port undone
        ([{"uuid": big["id"], "fixed_ip": f"{base}.300"}], 400),
        ([{"uuid": big["id"], "fixed_ip": "192.0.2.9"}], 400),  # not in the subnet
        ([{"uuid": big["id"], "fixed_ip": f"{base}.1"}], 409),  # the gateway
        ([{"uuid": "not-a-uuid"}], 400),
        ([{"port": missing, "fixed_ip": f"{base}.9"}], 400),
        ([{"fixed_ip": f"{base}.9"}], 400),
        ([{"uuid": big["id"], "bogus": 1}], 400),
        ([{"port": big["id"]}, {"port": big["id"]}], 400),
        (["x"], 400),
        ({"uuid": big["id"]}, 400),
        ("everything", 400),
        (7, 400),
    ]
    for networks, expected in cases:
        status, body = net_api.boot(tok, networks=networks)
        assert status == expected, (networks, status, body)
    assert net_api.call("GET", "/v2.1/servers", tok)[1]["servers"] == []
    assert [p["name"] for p in neutron.ports()] == ["holder"]
    assert len(other.ports()) == 1
    # Over quota after the ports were made: they are deleted again.
    admin = cloud_settings.token("admin", "admin", admin=True)
    project_id = project[0]
    assert net_api.call("PUT", f"/v2.1/os-quota-sets/{project_id}", admin,
                        {"quota_set": {"instances": 0}})[0] == 200
    assert net_api.boot(tok, networks=[{"uuid": big["id"]}])[0] == 403
    assert [p["name"] for p in neutron.ports()] == ["holder"]


def test_floating_ip_shows_as_floating(net_api, project, neutron, cloud_settings, cluster):
    _, tok = project
    admin = Neutron(cluster.network_url, cloud_settings.token("admin", "admin", admin=True))
    public = admin.create("network", name="pub" + uuid.uuid4().hex[:6],
                          **{"router:external": True})
    octet = random.randrange(1, 250)
    admin.create("subnet", network_id=public["id"], cidr=f"198.18.{octet}.0/29",
                 ip_version=4, enable_dhcp=False)
    network = neutron.network_with_subnet("inside", cidr24())
    status, body = net_api.boot(tok, networks=[{"uuid": network["id"]}])
    server_id = body["server"]["id"]
    [port] = neutron.ports(device_id=server_id)
    fip = neutron.create("floatingip", floating_network_id=public["id"], port_id=port["id"])
    view = server_view(net_api, tok, server_id)
    kinds = {a["OS-EXT-IPS:type"]: a["addr"] for a in view["addresses"]["inside"]}
    assert kinds == {"fixed": port["fixed_ips"][0]["ip_address"],
                     "floating": fip["floating_ip_address"]}
    # The detailed listing reads them again too (the openstack CLI shows a server found by
    # name from it).
    listed = net_api.call("GET", "/v2.1/servers/detail", tok)[1]["servers"]
    assert [s["addresses"] for s in listed if s["id"] == server_id] == [view["addresses"]]
    neutron.call("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    listed = net_api.call("GET", "/v2.1/servers/detail", tok)[1]["servers"]
    [mine] = [s for s in listed if s["id"] == server_id]
    assert [a["OS-EXT-IPS:type"] for a in mine["addresses"]["inside"]] == ["fixed"]
    assert net_api.call("DELETE", f"/v2.1/servers/{server_id}", tok)[0] == 204
    status, body = neutron.call("GET", f"/v2.0/floatingips/{fip['id']}")
    assert status == 200 and body["floatingip"]["port_id"] is None
    neutron.call("DELETE", f"/v2.0/floatingips/{fip['id']}")
    admin.call("DELETE", f"/v2.0/networks/{public['id']}")


def test_interface_attach_rolls_back_when_the_agent_cannot_plug(net_api, project, neutron):
    """The in-process API's host is registered at a closed port: the agent call fails, so
    the port made for the attach is deleted again and the server keeps its NICs."""
    _, tok = project
    first = neutron.network_with_subnet("first", cidr24())
    second = neutron.network_with_subnet("second", cidr24())
    net_api.register("h1")
    server_id = net_api.boot(tok, networks=[{"uuid": first["id"]}])[1]["server"]["id"]
    net_api.core.repo.update_server(server_id, vm_state=states.ACTIVE, task_state=None,
                                    host="h1", power_state=states.RUNNING, fault_message=None)
    path = f"/v2.1/servers/{server_id}/os-interface"
    status, body = net_api.call("POST", path, tok, {"interfaceAttachment": {
        "net_id": second["id"]}})
    assert status == 409, body
    assert neutron.ports(network_id=second["id"]) == []
    status, body = net_api.call("GET", path, tok)
    assert status == 200 and [a["net_id"] for a in body["interfaceAttachments"]] == [
        first["id"]]
    for bad in ({}, {"net_id": "x"}, {"port_id": str(uuid.uuid4()), "net_id": second["id"]},
                {"net_id": second["id"], "fixed_ips": "10.0.0.1"}, {"colour": 1}):
        status, body = net_api.call("POST", path, tok, {"interfaceAttachment": bad})
        assert status == 400, (bad, status, body)
    assert net_api.call("DELETE", f"{path}/{uuid.uuid4()}", tok)[0] == 404


def test_interfaces_on_the_session_clusters_compute(cloud, project, neutron, cloud_settings,
                                                    cluster):
    """Attach and detach through the cluster's own compute API and test-driver agents."""
    _, tok = project
    first = neutron.network_with_subnet("first", cidr24())
    second = neutron.network_with_subnet("second", cidr24())
    given = neutron.create("port", network_id=second["id"], name="given")
    status, body = cloud.boot(tok, "ifaces", networks=[{"uuid": first["id"]}])
    assert status == 202, body
    server_id = body["server"]["id"]
    cloud.wait_status(tok, server_id, "ACTIVE")
    path = f"/v2.1/servers/{server_id}/os-interface"
    status, body = cloud.post(path, tok, {"interfaceAttachment": {"net_id": second["id"]}})
    assert status == 200, body
    made = body["interfaceAttachment"]
    assert made["net_id"] == second["id"] and made["fixed_ips"]
    status, body = cloud.post(path, tok, {"interfaceAttachment": {"port_id": given["id"]}})
    assert status == 200, body
    listed = cloud.get(path, tok)[1]["interfaceAttachments"]
    assert len(listed) == 3 and listed[1]["port_id"] == made["port_id"]
    assert cloud.get(f"{path}/{given['id']}", tok)[1]["interfaceAttachment"]["port_id"] == \
        given["id"]
    addresses = cloud.server(tok, server_id)["addresses"]
    assert sorted(addresses) == ["first", "second"] and len(addresses["second"]) == 2
    other = Neutron(cluster.network_url, cloud_settings.token("x" + uuid.uuid4().hex[:9], "b"))
    theirs = other.network_with_subnet("theirs", cidr24())
    status, _ = cloud.post(path, tok, {"interfaceAttachment": {"net_id": theirs["id"]}})
    assert status == 404 and other.ports() == []
    # Detach: the port compute made is deleted, the port given is released.
    assert cloud.delete(f"{path}/{made['port_id']}", tok)[0] == 202
    assert cloud.delete(f"{path}/{given['id']}", tok)[0] == 202
    assert cloud.delete(f"{path}/{given['id']}", tok)[0] == 404
    assert [a["net_id"] for a in cloud.get(path, tok)[1]["interfaceAttachments"]] == [
        first["id"]]
    assert neutron.ports(network_id=second["id"])[0]["device_id"] == ""
    assert len(neutron.ports(network_id=second["id"])) == 1
    assert cloud.delete(f"/v2.1/servers/{server_id}", tok)[0] == 204
    assert neutron.ports(network_id=first["id"]) == []
