"""A server's NICs as compute records them (`servers.network_info`), and what is rendered
from them: the `addresses` of server views, `os-interface` attachments and the config
drive's `network_data.json` (no IO).

One entry per port, in boot order: `{"port_id", "network_id", "network_name",
"mac_address", "fixed_ips": [{"ip_address", "subnet_id"}], "floating_ips": [address],
"preexisting": bool}`. A `preexisting` port was given by the caller (`{"port": id}`): on
delete it is unbound, not deleted.
"""
from __future__ import annotations

import ipaddress


def entry(port: dict, network_name: str, floating_ips=(), preexisting: bool = False) -> dict:
    """The record of one port (a Neutron port document)."""
    return {
        "port_id": port["id"],
        "network_id": port.get("network_id"),
        "network_name": network_name,
        "mac_address": port.get("mac_address"),
        "fixed_ips": [{"ip_address": f.get("ip_address"), "subnet_id": f.get("subnet_id")}
                      for f in port.get("fixed_ips") or [] if isinstance(f, dict)],
        "floating_ips": sorted(floating_ips),
        "preexisting": bool(preexisting),
    }


def _version(address: str) -> int:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return 4


def addresses(network_info: list[dict]) -> dict[str, list[dict]]:
    """Nova's `addresses`: {network name: [{version, addr, OS-EXT-IPS:type,
    OS-EXT-IPS-MAC:mac_addr}]}, fixed addresses first, then floating ones."""
    view: dict[str, list[dict]] = {}
    for nic in network_info:
        items = view.setdefault(nic.get("network_name") or nic.get("network_id") or "", [])
        mac = nic.get("mac_address")
        for kind, addrs in (("fixed", [f["ip_address"] for f in nic.get("fixed_ips", [])]),
                            ("floating", nic.get("floating_ips", []))):
            for address in addrs:
                items.append({"version": _version(address), "addr": address,
                              "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": mac})
    return view


def interface_attachment(nic: dict, port_state: str = "ACTIVE") -> dict:
    """One `os-interface` attachment."""
    return {"port_id": nic["port_id"], "net_id": nic.get("network_id"),
            "mac_addr": nic.get("mac_address"), "port_state": port_state,
            "fixed_ips": [dict(f) for f in nic.get("fixed_ips", [])]}


def network_data(network_info: list[dict], link_name) -> dict:
    """The config drive's `openstack/latest/network_data.json`: one link per NIC (named by
    `link_name(port_id)`, the tap device) configured by DHCP, which hands each NIC exactly
    the address the network service allocated."""
    links, networks = [], []
    for index, nic in enumerate(network_info):
        link = link_name(nic["port_id"])
        links.append({"id": link, "vif_id": nic["port_id"], "type": "bridge",
                      "ethernet_mac_address": nic.get("mac_address"), "mtu": None})
        for fixed in nic.get("fixed_ips", []):
            version = _version(fixed["ip_address"])
            networks.append({"id": f"network{index}", "link": link,
                             "type": "ipv4_dhcp" if version == 4 else "ipv6_dhcp",
                             "network_id": nic.get("network_id")})
    return {"links": links, "networks": networks, "services": []}
