"""Real VMs on networks of the network API (issue 13's tests 1-4): a VM gets, by DHCP,
exactly the address the compute API reports and reads its keypair and user_data from the
config drive; its port 80 is closed from the node until a security-group rule opens it; a
second VM of its project and network reaches it, a VM of another project on its own network
does not; a floating IP reaches it until it is disassociated. Also: a NIC hot-plugged into
the running VM (os-interface) gets its DHCP address and leaves when detached, and the
README quick start's network part, run verbatim, ends with a reachable VM.

Everything runs inside a network namespace this test creates (`tests.vm.netns_cloud`): the
QEMU all-in-one cluster, the libvirtd it starts (in its own mount namespace), the bridge,
dnsmasq and nftables of the node's datapath, and the guest. The scenario itself is
`tests.vm.netns_boot_scenario`; this test only compares what it reports.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

import pytest

from tests.vm.netns_cloud import run_in_netns

pytestmark = pytest.mark.qemu

TOOLS = ("ip", "unshare", "nft", "dnsmasq", "conntrack", "libvirtd", "virtlogd", "xorriso",
         "qemu-system-x86_64")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def workdir():
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, bridges, libvirtd)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: run ./install.sh")
    path = tempfile.mkdtemp(prefix="brume-vmnet-")
    os.chmod(path, 0o755)  # dnsmasq re-reads its host file as nobody
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_vms_on_networks_dhcp_config_drive_groups_isolation_floating_ips(workdir):
    env = {**os.environ, "PYTHONPATH": REPO}
    done = run_in_netns([sys.executable, "-m", "tests.vm.netns_boot_scenario", workdir],
                        timeout=900, env=env)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (done.returncode, done.stdout[-3000:],
                                            done.stderr[-3000:])
    result = json.loads(lines[-1])
    [address] = result["addresses"]["vmnet"]
    assert address["OS-EXT-IPS:type"] == "fixed" and address["addr"].startswith("10.77.0.")
    mac = address["OS-EXT-IPS-MAC:mac_addr"]
    [nic] = ET.fromstring(result["domain_xml"]).findall("devices/interface")
    assert nic.attrib["type"] == "bridge" and nic.find("mac").attrib["address"] == mac
    console = result["console"]
    assert f"BRUME-DEMO: config drive {result['server_id']}" in console, console
    assert f"BRUME-DEMO: key fingerprint {result['fingerprint']}" in console, console
    assert "BRUME-DEMO: user_data brume user data line one" in console, console
    assert f"BRUME-DEMO: eth0 {address['addr']}" in console, console
    page = f"BRUME-DEMO web {address['addr']}"
    assert result["node_before_rule"] is None
    assert result["node_after_rule"] == page
    assert f"BRUME-DEMO: probe reached {page}" in result["same_console"], result
    assert "BRUME-DEMO: probe unreachable" in result["other_console"], result
    assert result["via_floating_ip"] == page
    assert {"version": 4, "addr": result["floating_ip"], "OS-EXT-IPS:type": "floating",
            "OS-EXT-IPS-MAC:mac_addr": mac} in result["floating_in_view"]["vmnet"]
    assert result["after_disassociation"] is None
    assert result["ports_after_delete"] == []

    # Hot-plug: the NIC joins the live domain, the guest takes its address by DHCP and
    # serves the page there too; unplugged, it leaves the domain and the guest.
    plugged = result["hotplug"]
    assert plugged["address"].startswith("10.79.0."), plugged
    assert f"BRUME-DEMO: eth1 {plugged['address']}" in plugged["console"], plugged
    assert plugged["live_nics"] == 2 and plugged["page"] == page, plugged
    assert plugged["nics_after_detach"] == 1, plugged
    assert "BRUME-DEMO: eth1 gone" in plugged["console_after_detach"], plugged

    # The README quick start's network part, verbatim, ends with the new VM's page.
    readme = result["readme"]
    assert readme["returncode"] == 0, readme
    assert readme["stdout"].strip().splitlines()[-1].startswith("BRUME-DEMO web 10.99.0."), \
        readme
    assert readme["key_file"].startswith("-----BEGIN"), readme
