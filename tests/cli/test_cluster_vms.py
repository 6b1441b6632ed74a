"""What `brume down` counts and removes on a hypervisor: only this cluster's domains.

Real libvirt through its test driver, whose state every connection of this process shares
(like clusters sharing one libvirtd): this cluster's domains (their instance dirs are its
agents'), another cluster's Brume domain and a domain that is not Brume's at all. The same
on qemu:///system with a booted VM is tests/vm/test_down_with_vms.py.
"""
from __future__ import annotations

import os
import uuid

import libvirt
import pytest

from cli.allinone import cluster_vms, configs, lifecycle
from cli.allinone.layout import Layout

TEST_URI = "test:///default"


def domain_xml(name: str, server_id: str) -> str:
    return (f"<domain type='test'><name>{name}</name><uuid>{server_id}</uuid>"
            "<memory>65536</memory><os><type>hvm</type></os></domain>")


@pytest.fixture
def conn():
    connection = libvirt.open(TEST_URI)
    made = []
    yield connection, made
    for domain in made:
        try:
            if domain.isActive():
                domain.destroy()
            domain.undefine()
        except libvirt.libvirtError:
            pass  # removed by the test
    connection.close()


def define(conn_made, instances_dir: str | None, name_prefix: str = "brume-",
           running: bool = True) -> str:
    connection, made = conn_made
    server_id = str(uuid.uuid4())
    if instances_dir is not None:
        os.makedirs(os.path.join(instances_dir, server_id))
    domain = connection.defineXML(domain_xml(name_prefix + server_id, server_id))
    made.append(domain)
    if running:
        domain.create()
    return server_id


def exists(conn_made, server_id: str) -> bool:
    try:
        conn_made[0].lookupByUUIDString(server_id)
        return True
    except libvirt.libvirtError:
        return False


def test_hypervisors_come_from_the_agents_configs(tmp_path):
    layout = Layout(data_dir=str(tmp_path / "data"), test_driver=True)
    assert cluster_vms.hypervisors(layout) == []  # never prepared: nothing to look at
    lifecycle.prepare(layout, lifecycle.runnable_specs(layout)[0])
    [hypervisor] = cluster_vms.hypervisors(layout)
    assert hypervisor.uri == TEST_URI and not hypervisor.keeps_vms
    assert hypervisor.instances_dirs == [
        os.path.join(layout.var_dir(agent), "instances") for agent in ("hv1", "hv2")]
    for agent in ("hv1", "hv2"):
        configs.set_option_anywhere(layout.spec(f"agent-{agent}").conf_path, "libvirt_uri",
                                    "qemu:///system")
    [hypervisor] = cluster_vms.hypervisors(layout)
    assert hypervisor.uri == "qemu:///system" and hypervisor.keeps_vms


def test_count_and_remove_touch_only_this_clusters_domains(tmp_path, conn):
    ours = [str(tmp_path / "ours" / "hv1"), str(tmp_path / "ours" / "hv2")]
    theirs = str(tmp_path / "theirs" / "hv1")
    running_1 = define(conn, ours[0])
    running_2 = define(conn, ours[1])
    stopped = define(conn, ours[0], running=False)
    other_cluster = define(conn, theirs)
    not_brume = define(conn, ours[0], name_prefix="other-")  # a dir of ours, not our name
    hypervisor = cluster_vms.Hypervisor(TEST_URI, ours)

    assert cluster_vms.count(hypervisor) == cluster_vms.VmCount(TEST_URI, running=2, defined=3)
    assert cluster_vms.remove(hypervisor) == 3
    for server_id in (running_1, running_2, stopped):
        assert not exists(conn, server_id)
        assert os.path.isdir(os.path.join(ours[0] if server_id != running_2 else ours[1],
                                          server_id))  # the instance files stay
    assert exists(conn, other_cluster) and exists(conn, not_brume)
    assert conn[0].lookupByUUIDString(other_cluster).isActive()
    assert cluster_vms.count(hypervisor) == cluster_vms.VmCount(TEST_URI, 0, 0)
    assert cluster_vms.remove(hypervisor) == 0


def test_an_unreachable_hypervisor_is_a_driver_error(tmp_path):
    from compute.driver import DriverError

    hypervisor = cluster_vms.Hypervisor("qemu+unix:///system?socket=" + str(tmp_path / "none"),
                                        [str(tmp_path)])
    with pytest.raises(DriverError, match="cannot connect to"):
        cluster_vms.count(hypervisor)
    with pytest.raises(DriverError, match="cannot connect to"):
        cluster_vms.remove(hypervisor)
