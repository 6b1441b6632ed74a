"""The VM networking scenario, run INSIDE the test's network namespace (tests.vm.netns_cloud):
`python3 -m tests.vm.netns_boot_scenario WORKDIR`.

A QEMU all-in-one cluster (`brume up`, libvirtd started by it in the namespace), the demo
image, a network with a subnet and a generated keypair in the real services, and one server
booted on that network with the keypair, user_data and a config drive. The guest prints what
it read from the config drive and the address DHCP gave eth0, and serves a page on port 80.
Then, from the node (this namespace): port 80 before and after a security-group rule opens
it, through a floating IP and after its disassociation; and from two more guests (user_data
scripts that fetch the page): one of the same project and network, one of another project
on its own network. A NIC on a second network is plugged into the running guest (it takes
its address by DHCP and serves the page there too) and unplugged again. Last, the README
quick start's network part runs verbatim (the lines between its `quickstart-network`
markers, with `brume` this checkout's and pointed at this cluster) and must end with the
page of a new VM fetched through its floating IP. This script prints one JSON line with what
the API said, what the probes got and what the consoles showed, for the test to compare.
"""
from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from tests.compute.support import http
from tests.integration.support import brume
from tests.vm.qemu_support import VmCloud, start_qemu_cluster

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README_BLOCK = re.compile(r"<!-- quickstart-network\b[^>]*-->\n(.*?)<!-- /quickstart-network -->",
                          re.S)
CONSOLE_TIMEOUT = 150.0
USER_DATA = b"brume user data line one\nline two\n"
# The guests fetch with busybox nc: the busybox-static wget fails silently there.
CONSOLE_LINE = re.compile(r"BRUME-DEMO: (config drive|key|user_data|eth\d|probe)")
PROBE_SCRIPT = """#!/bin/sh
for i in $(seq {tries}); do
  out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 80 2>/dev/null | tail -n 1)
  case "$out" in
    BRUME-DEMO*) echo "BRUME-DEMO: probe reached $out"; exit 0 ;;
  esac
  sleep 2
done
echo "BRUME-DEMO: probe unreachable"
ping -c 1 -W 2 {target} >/dev/null 2>&1 && echo "BRUME-DEMO: probe-debug ping ok" \
  || echo "BRUME-DEMO: probe-debug ping failed"
echo "BRUME-DEMO: probe-debug $(ip -4 -o addr show dev eth0) / $(ip route | tr '\\n' ';')"
echo "BRUME-DEMO: probe-debug arp $(cat /proc/net/arp | tr '\\n' ';')"
"""


def fetch(address: str, timeout: float = 3.0) -> str | None:
    """The page on port 80 of `address` (from this namespace: the node), or None."""
    try:
        with socket.create_connection((address, 80), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
    except OSError:
        return None
    return data.decode("utf-8", "replace").split("\r\n\r\n", 1)[-1].strip()


def fetch_until(address: str, wanted: bool, timeout: float = 20.0) -> str | None:
    """Probe until the answer is there (`wanted`) or gone; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = fetch(address)
        if (answer is not None) == wanted or time.monotonic() > deadline:
            return answer
        time.sleep(1)


def console_lines(cloud, server_id: str, until: str, timeout: float = CONSOLE_TIMEOUT,
                  user: str = "admin:admin") -> list[str]:
    """The guest's BRUME-DEMO lines once `until` shows (or the timeout passes); a server
    still building has no console yet (409) and is asked again."""
    deadline = time.monotonic() + timeout
    console = ""
    while time.monotonic() < deadline:
        status, body = cloud.api("POST", f"/servers/{server_id}/action",
                                 {"os-getConsoleOutput": {"length": None}}, user=user)
        if status == 200:
            console = body["output"]
            if until in console:
                break
        time.sleep(1)
    # A line may start after the console shell's terminal query (ESC [6n).
    return [line[found.start():] for line in console.splitlines()
            if (found := CONSOLE_LINE.search(line))]


def debug_dump(handle) -> dict:
    """What the node looks like, for a failed expectation's message."""
    dump = {}
    for name, argv in (("addr", ["ip", "-br", "addr"]), ("routes", ["ip", "route"]),
                       ("ruleset", ["nft", "list", "ruleset"])):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        dump[name] = (done.stdout + done.stderr)[-6000:]
    log = os.path.join(handle.data_dir, "logs", "agent-hv1.log")
    try:
        with open(log, encoding="utf-8", errors="replace") as file:
            dump["agent_log"] = file.read()[-6000:]
    except OSError as exc:
        dump["agent_log"] = str(exc)
    return dump


def network_with_subnet(url: str, token: str, name: str, cidr: str, **network) -> dict:
    status, body = http("POST", f"{url}/v2.0/networks", token,
                        {"network": {"name": name, **network}})
    assert status == 201, body
    status, subnet = http("POST", f"{url}/v2.0/subnets", token, {"subnet": {
        "network_id": body["network"]["id"], "cidr": cidr, "ip_version": 4,
        "enable_dhcp": not network.get("router:external")}})
    assert status == 201, subnet
    return body["network"]


def boot_prober(cloud, image_id: str, name: str, network_id: str, target: str, tries: int,
                user: str) -> str:
    script = PROBE_SCRIPT.format(target=target, tries=tries).encode()
    status, body = cloud.api("POST", "/servers", {"server": {
        "name": name, "imageRef": image_id, "flavorRef": "1", "config_drive": True,
        "user_data": base64.b64encode(script).decode(),
        "networks": [{"uuid": network_id}]}}, user=user)
    assert status == 202, body
    return body["server"]["id"]


def readme_network_part() -> str:
    """The README quick start's network commands, as a shell script."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        found = README_BLOCK.search(handle.read())
    assert found, "README.md has no quickstart-network block"
    lines = [line[4:] if line.startswith("    ") else line
             for line in found.group(1).strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def run_readme_network_part(handle, workdir: str) -> dict:
    """Run the README's network part with bash, `brume` being this checkout's CLI pointed at
    this cluster by its environment variables (as a user's would be at the default ports)."""
    bindir = tempfile.mkdtemp(prefix="bin-", dir=workdir)
    with open(os.path.join(bindir, "brume"), "w", encoding="utf-8") as shim:
        shim.write(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; from cli.main import "
                   "main; sys.exit(main(sys.argv[1:]))' \"$@\"\n")
    os.chmod(os.path.join(bindir, "brume"), 0o755)
    home = tempfile.mkdtemp(prefix="home-", dir=workdir)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OS_", "BRUME_", "ST_"))}
    env.update({"PATH": bindir + os.pathsep + env.get("PATH", ""), "HOME": home,
                "PYTHONPATH": REPO, "BRUME_AUTH_URL": handle.auth_url,
                "BRUME_IMAGE_URL": handle.image_url, "BRUME_COMPUTE_URL": handle.compute_url,
                "BRUME_NETWORK_URL": handle.network_url})
    script = readme_network_part()
    try:
        done = subprocess.run(["bash", "-e", "-c", script], cwd=home, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        answer = {"returncode": done.returncode, "stdout": done.stdout[-3000:],
                  "stderr": done.stderr[-3000:]}
    except subprocess.TimeoutExpired as exc:
        answer = {"returncode": "timeout", "stdout": str(exc.stdout)[-3000:],
                  "stderr": str(exc.stderr)[-3000:]}
    answer["script"] = script
    with open(os.path.join(home, "demo-key.pem"), encoding="utf-8") as key:
        answer["key_file"] = key.read(40)
    return answer


def hotplug(cloud, server_id: str, network_id: str) -> dict:
    """Plug a port of `network_id` into the running server, fetch the page through it,
    unplug it; what each step showed."""
    found: dict = {}
    status, body = cloud.api("POST", f"/servers/{server_id}/os-interface",
                             {"interfaceAttachment": {"net_id": network_id}})
    assert status == 200, body
    attachment = body["interfaceAttachment"]
    found["address"] = attachment["fixed_ips"][0]["ip_address"]
    found["console"] = console_lines(cloud, server_id, f"BRUME-DEMO: eth1 {found['address']}",
                                     timeout=60)
    domain = cloud.libvirt.lookupByUUIDString(server_id)
    found["live_nics"] = len(ET.fromstring(domain.XMLDesc(0)).findall("devices/interface"))
    found["page"] = fetch_until(found["address"], wanted=True)
    status, body = cloud.api("DELETE",
                             f"/servers/{server_id}/os-interface/{attachment['port_id']}")
    assert status == 202, body
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found["nics_after_detach"] = len(
            ET.fromstring(domain.XMLDesc(0)).findall("devices/interface"))
        if found["nics_after_detach"] == 1:
            break
        time.sleep(1)
    found["console_after_detach"] = console_lines(cloud, server_id, "BRUME-DEMO: eth1 gone",
                                                  timeout=30)
    return found


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
                                    os.path.join(workdir, "demo"), "--visibility",
                                    "community", "--format", "json").stdout)
        token = cloud.token()
        net_url = handle.network_url
        network = network_with_subnet(net_url, token, "vmnet", "10.77.0.0/24")
        status, body = cloud.api("POST", "/os-keypairs", {"keypair": {"name": "netvm-key"}})
        assert status == 200, body
        result["fingerprint"] = body["keypair"]["fingerprint"]
        status, body = cloud.api("POST", "/servers", {"server": {
            "name": "netvm", "imageRef": demo["id"], "flavorRef": "1",
            "key_name": "netvm-key", "config_drive": True,
            "user_data": base64.b64encode(USER_DATA).decode(),
            "networks": [{"uuid": network["id"]}]}})
        assert status == 202, body
        server_id = result["server_id"] = body["server"]["id"]
        server = cloud.wait_status(server_id, "ACTIVE", timeout=120)
        result["addresses"] = server["addresses"]
        address = server["addresses"]["vmnet"][0]["addr"]
        result["domain_xml"] = cloud.libvirt.lookupByUUIDString(server_id).XMLDesc(0)
        result["console"] = console_lines(cloud, server_id, "BRUME-DEMO: eth0")

        # Port 80 from the node: closed by the default group, open once a rule allows it.
        time.sleep(3)  # the guest's httpd starts right after its eth0 line
        result["node_before_rule"] = fetch(address)
        status, body = http("GET", f"{net_url}/v2.0/security-groups?name=default", token)
        group = body["security_groups"][0]
        status, body = http("POST", f"{net_url}/v2.0/security-group-rules", token,
                            {"security_group_rule": {
                                "security_group_id": group["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
                                "remote_ip_prefix": "0.0.0.0/0"}})
        assert status == 201, body
        rule_id = body["security_group_rule"]["id"]
        result["node_after_rule"] = fetch_until(address, wanted=True)

        # Two more guests fetch the first one's page: same project and network; another
        # project on its own network (expected to fail: its probe gives up after ~25 s).
        same = boot_prober(cloud, demo["id"], "same", network["id"], address, 20,
                           "test:tester")
        other_token = cloud.token("test2:tester2")
        other_net = network_with_subnet(net_url, other_token, "othernet", "10.78.0.0/24")
        other = boot_prober(cloud, demo["id"], "other", other_net["id"], address, 5,
                            "test2:tester2")

        # A floating IP of an external network reaches the guest; not after disassociation.
        admin = cloud.token("admin:admin")
        public = network_with_subnet(net_url, admin, "ext", "198.51.100.0/24",
                                     **{"router:external": True})
        status, body = http("GET", f"{net_url}/v2.0/ports?device_id={server_id}", token)
        port_id = body["ports"][0]["id"]
        status, body = http("POST", f"{net_url}/v2.0/floatingips", token, {"floatingip": {
            "floating_network_id": public["id"], "port_id": port_id}})
        assert status == 201, body
        fip = body["floatingip"]
        result["floating_ip"] = fip["floating_ip_address"]
        result["via_floating_ip"] = fetch_until(fip["floating_ip_address"], wanted=True)
        if result["via_floating_ip"] is None:
            result["debug_fip"] = debug_dump(handle)
        result["floating_in_view"] = cloud.server(server_id)["addresses"]
        status, body = http("PUT", f"{net_url}/v2.0/floatingips/{fip['id']}", token,
                            {"floatingip": {"port_id": None}})
        assert status == 200, body
        result["after_disassociation"] = fetch_until(fip["floating_ip_address"],
                                                     wanted=False)

        # A NIC on a second network plugged into the running guest, then unplugged.
        hotnet = network_with_subnet(net_url, token, "hotnet", "10.79.0.0/24")
        result["hotplug"] = hotplug(cloud, server_id, hotnet["id"])

        result["same_console"] = console_lines(cloud, same, "BRUME-DEMO: probe",
                                               timeout=240)
        result["other_console"] = console_lines(cloud, other, "BRUME-DEMO: probe",
                                                timeout=240)
        for name, doomed in (("same", same), ("other", other)):
            status, body = cloud.api("GET", f"/servers/{doomed}", user="admin:admin")
            result[f"{name}_server"] = {key: body["server"].get(key) for key in (
                "status", "fault", "addresses")} if status == 200 else status
        if not any("reached" in line for line in result["same_console"]):
            result["debug_probers"] = debug_dump(handle)
        for doomed in (same, other):
            cloud.api("DELETE", f"/servers/{doomed}", user="admin:admin")
        cloud.delete(server_id)
        status, body = http("GET", f"{net_url}/v2.0/ports?device_id={server_id}", token)
        result["ports_after_delete"] = body["ports"] if status == 200 else status

        # The README's quick start, network part: its own rule for port 80 on the group.
        http("DELETE", f"{net_url}/v2.0/security-group-rules/{rule_id}", token)
        result["readme"] = run_readme_network_part(handle, workdir)
    finally:
        brume("down", "--data-dir", data_dir, "--timeout", "10", check=False)
        if cloud is not None:
            cloud.remove_leftover_domains()
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
