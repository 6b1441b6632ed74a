"""The VM networking scenario, run INSIDE the test's network namespace (tests.vm.netns_cloud):
`python3 -m tests.vm.netns_boot_scenario WORKDIR`.

A QEMU all-in-one cluster (`brume up`, libvirtd started by it in the namespace), the demo
image, a network with a subnet and a generated keypair in the real services, and one server
booted on that network with the keypair, user_data and a config drive. The guest prints what
it read from the config drive and the address DHCP gave eth0; this script prints one JSON
line with what the API said and what the console showed, for the test to compare.
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
import time

from tests.compute.support import http
from tests.integration.support import brume
from tests.vm.qemu_support import VmCloud, start_qemu_cluster

CONSOLE_TIMEOUT = 150.0
USER_DATA = b"brume user data line one\nline two\n"


def main(workdir: str) -> dict:
    data_dir = os.path.join(workdir, "cluster")
    datapath = os.path.join(workdir, "datapath")
    os.makedirs(data_dir, mode=0o700)
    os.makedirs(datapath, mode=0o755)
    result: dict = {}
    handle = start_qemu_cluster(data_dir, {"datapath_dir": datapath})
    cloud = None
    try:
        cloud = VmCloud(handle)
        cloud.disable_host("hv2")
        demo = json.loads(cloud.cli("image", "build-demo", "--output-dir",
                                    os.path.join(workdir, "demo"), "--format",
                                    "json").stdout)
        token = cloud.token()
        net_url = handle.network_url
        status, body = http("POST", f"{net_url}/v2.0/networks", token,
                            {"network": {"name": "vmnet"}})
        assert status == 201, body
        network = body["network"]
        status, body = http("POST", f"{net_url}/v2.0/subnets", token, {"subnet": {
            "network_id": network["id"], "cidr": "10.77.0.0/24", "ip_version": 4}})
        assert status == 201, body
        status, body = cloud.api("POST", "/os-keypairs", {"keypair": {"name": "demo-key"}})
        assert status == 200, body
        result["fingerprint"] = body["keypair"]["fingerprint"]
        status, body = cloud.api("POST", "/servers", {"server": {
            "name": "netvm", "imageRef": demo["id"], "flavorRef": "1",
            "key_name": "demo-key", "config_drive": True,
            "user_data": base64.b64encode(USER_DATA).decode(),
            "networks": [{"uuid": network["id"]}]}})
        assert status == 202, body
        server_id = result["server_id"] = body["server"]["id"]
        server = cloud.wait_status(server_id, "ACTIVE", timeout=120)
        result["addresses"] = server["addresses"]
        result["domain_xml"] = cloud.libvirt.lookupByUUIDString(server_id).XMLDesc(0)
        deadline = time.monotonic() + CONSOLE_TIMEOUT
        console = ""
        while time.monotonic() < deadline:
            console = cloud.console(server_id)
            if "BRUME-DEMO: eth0" in console:
                break
            time.sleep(1)
        result["console"] = [line for line in console.splitlines()
                             if re.match(r"BRUME-DEMO: (config drive|key|user_data|eth0)",
                                         line)]
        cloud.delete(server_id)
        status, body = http("GET", f"{net_url}/v2.0/ports?device_id={server_id}", token)
        result["ports_after_delete"] = body["ports"] if status == 200 else status
    finally:
        brume("down", "--data-dir", data_dir, "--timeout", "10", check=False)
        if cloud is not None:
            cloud.remove_leftover_domains()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
