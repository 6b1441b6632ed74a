"""Allocation is atomic across processes: two apps on one SQLite file (two connections, as two
service processes would have), many threads creating ports and floating IPs at once on a
small pool. Every address is given once, the pool is used up exactly, every other request is
a 409, and no port is left without its address."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.network.conftest import Client, mint, write_conf


def test_concurrent_ports_on_two_connections_never_share_an_address(tmp_path):
    from network.app import make_app

    conf = write_conf(tmp_path)
    first, second = make_app(conf), make_app(conf)
    token = mint("race")
    owner = Client(first, token)
    net = owner.create("networks", "network")
    owner.create("subnets", "subnet", network_id=net["id"], cidr="10.7.0.0/28")  # 13 free

    def create(index):
        client = Client(first if index % 2 else second, token)
        return client.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                                    "name": f"p{index}"}})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(24)))
    created = [doc["port"] for status, _, doc in answers if status == 201]
    refused = [doc["NeutronError"]["type"] for status, _, doc in answers if status != 201]
    assert len(created) == 13
    assert set(refused) == {"IpAddressGenerationFailure"} and len(refused) == 11
    given = [port["fixed_ips"][0]["ip_address"] for port in created]
    assert len(set(given)) == 13 and "10.7.0.1" not in given
    listed = owner.get(f"/v2.0/ports?network_id={net['id']}")[2]["ports"]
    assert sorted(p["id"] for p in listed) == sorted(p["id"] for p in created)
    assert all(len(p["fixed_ips"]) == 1 for p in listed)
    macs = [p["mac_address"] for p in listed]
    assert len(set(macs)) == len(macs)


def test_concurrent_floating_ips_never_share_an_address(tmp_path):
    from network.app import make_app

    conf = write_conf(tmp_path)
    apps = [make_app(conf), make_app(conf)]
    admin = Client(apps[0], mint("admin", ("admin", "member")))
    public = admin.create("networks", "network", **{"router:external": True})
    admin.create("subnets", "subnet", network_id=public["id"], cidr="192.0.2.0/29")  # 5 free
    tokens = [mint(f"p{i}") for i in range(4)]

    def create(index):
        client = Client(apps[index % 2], tokens[index % 4])
        return client.post("/v2.0/floatingips",
                           {"floatingip": {"floating_network_id": public["id"]}})

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(create, range(12)))
    addresses = [doc["floatingip"]["floating_ip_address"] for status, _, doc in answers
                 if status == 201]
    assert sorted(addresses) == [f"192.0.2.{i}" for i in range(2, 7)]
    assert sorted(status for status, _, _ in answers) == [201] * 5 + [409] * 7
