"""A real VM on a network of the network API gets, by DHCP, exactly the address the compute
API reports, and reads its keypair and user_data from the config drive.

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


def test_vm_gets_the_api_address_by_dhcp_and_reads_its_config_drive(workdir):
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
    assert result["ports_after_delete"] == []
