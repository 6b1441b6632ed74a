"""`brume network|security-group|floating-ip ...`: the network commands of the CLI, as far
as the README's quick start needs them (the openstack CLI does the rest).

    brume network create NAME [--subnet CIDR] [--no-dhcp] [--external] [--shared]
    brume network list | delete NET
    brume security-group rule create GROUP [--protocol tcp] [--port N[:M]]
                                           [--remote-ip CIDR] [--egress] | delete RULE
    brume floating-ip create NETWORK [--server S] | list | delete ADDRESS_OR_ID

Tables by default, `--format json` for scripts, `--format value` for the one field a script
wants (a network's id, a rule's id, a floating IP's address). Credentials: cli.credentials;
calls through `cli.compute_client` (the compute API too: `--server` names a server).
"""
from __future__ import annotations

import argparse
import urllib.parse

from cli.compute import leaf
from cli.compute_client import ComputeClient
from cli.compute_output import print_fields, print_json, print_table
from cli.main import CLIError


def _leaf(group, name: str, handler, help_text: str) -> argparse.ArgumentParser:
    return leaf(group, name, handler, help_text, formats=("table", "json", "value"))


def _group(subparsers, name: str, help_text: str):
    parser = subparsers.add_parser(name, help=help_text)
    group = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    group.required = True
    return group


def register(subparsers) -> None:
    group = _group(subparsers, "network", "networks and their subnets")
    create = _leaf(group, "create", network_create, "create a network (and its subnet)")
    create.add_argument("name")
    create.add_argument("--subnet", metavar="CIDR", help="an IPv4 subnet, e.g. 10.0.0.0/24")
    create.add_argument("--no-dhcp", action="store_true", help="the subnet without DHCP")
    create.add_argument("--external", action="store_true",
                        help="floating IPs come from it (cloud admin)")
    create.add_argument("--shared", action="store_true", help="every project may use it")
    _leaf(group, "list", network_list, "list networks")
    delete = _leaf(group, "delete", network_delete, "delete a network and its subnets")
    delete.add_argument("network", help="network name or id")

    group = _group(subparsers, "security-group", "security groups (their rules)")
    rule = group.add_parser("rule", help="security group rules")
    rules = rule.add_subparsers(dest="rule_command", metavar="ACTION")
    rules.required = True
    rcreate = _leaf(rules, "create", rule_create, "add a rule to a group")
    rcreate.add_argument("group", help="group name or id (e.g. default)")
    rcreate.add_argument("--protocol", default=None, help="tcp, udp, icmp or a number")
    rcreate.add_argument("--port", default=None, metavar="N[:M]", help="port or range")
    rcreate.add_argument("--remote-ip", default=None, metavar="CIDR",
                         help="default 0.0.0.0/0")
    rcreate.add_argument("--egress", action="store_true", help="outgoing (default incoming)")
    rdelete = _leaf(rules, "delete", rule_delete, "delete a rule")
    rdelete.add_argument("rule", help="rule id")

    group = _group(subparsers, "floating-ip", "floating IPs")
    fcreate = _leaf(group, "create", floating_create, "allocate a floating IP")
    fcreate.add_argument("network", help="the external network it comes from")
    fcreate.add_argument("--server", default=None,
                         help="associate it with this server's first port")
    _leaf(group, "list", floating_list, "list floating IPs")
    fdelete = _leaf(group, "delete", floating_delete, "release a floating IP")
    fdelete.add_argument("floating_ip", help="address or id")


def _show(args, item: dict, value: str, fields=None) -> None:
    """One resource: JSON, its `value` field alone, or a table (of `fields` when given)."""
    if args.format == "json":
        print_json(item)
    elif args.format == "value":
        print(item.get(value) or "")
    else:
        print_fields({k: item.get(k) for k in fields} if fields else item)


# networks --------------------------------------------------------------------------------
def network_create(args) -> int:
    client = ComputeClient.from_args(args)
    attrs: dict = {"name": args.name}
    if args.external:
        attrs["router:external"] = True
    if args.shared:
        attrs["shared"] = True
    network = client.network("POST", "/v2.0/networks", {"network": attrs})["network"]
    if args.subnet:
        try:
            subnet = client.network("POST", "/v2.0/subnets", {"subnet": {
                "network_id": network["id"], "name": f"{args.name}-subnet", "ip_version": 4,
                "cidr": args.subnet, "enable_dhcp": not args.no_dhcp}})["subnet"]
        except CLIError:
            client.network("DELETE", f"/v2.0/networks/{network['id']}")
            raise
        network = {**network, "subnets": [subnet["id"]], "cidr": subnet["cidr"],
                   "gateway_ip": subnet["gateway_ip"]}
    _show(args, network, "id", ("id", "name", "cidr", "gateway_ip", "router:external",
                                 "shared", "project_id", "status"))
    return 0


def network_list(args) -> int:
    client = ComputeClient.from_args(args)
    networks = client.network("GET", "/v2.0/networks")["networks"]
    subnets = {s["id"]: s["cidr"] for s in client.network("GET", "/v2.0/subnets")["subnets"]}
    if args.format == "json":
        print_json(networks)
    elif args.format == "value":
        print("\n".join(n["id"] for n in networks))
    else:
        print_table(["ID", "Name", "Subnets", "External", "Shared", "Project"],
                    [[n["id"], n["name"], " ".join(subnets.get(s, s) for s in n["subnets"]),
                      n["router:external"], n["shared"], n["project_id"]] for n in networks])
    return 0


def network_delete(args) -> int:
    client = ComputeClient.from_args(args)
    network = client.resolve_network_item("networks", args.network)
    client.network("DELETE", f"/v2.0/networks/{network['id']}")
    return 0


# security group rules ------------------------------------------------------------------
def port_range(text: str | None) -> tuple[int | None, int | None]:
    """`--port`: "80" → (80, 80), "8000:8080" → (8000, 8080), None → (None, None)."""
    if text is None:
        return None, None
    low, sep, high = text.partition(":")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError:
        raise CLIError(f"--port needs N or N:M, got {text!r}") from None
    return first, last


def rule_create(args) -> int:
    client = ComputeClient.from_args(args)
    group = client.resolve_network_item("security-groups", args.group)
    first, last = port_range(args.port)
    if first is not None and args.protocol is None:
        raise CLIError("--port needs --protocol (tcp or udp)")
    rule = {"security_group_id": group["id"], "ethertype": "IPv4",
            "direction": "egress" if args.egress else "ingress",
            "protocol": args.protocol, "port_range_min": first, "port_range_max": last,
            "remote_ip_prefix": args.remote_ip or "0.0.0.0/0"}
    created = client.network("POST", "/v2.0/security-group-rules",
                             {"security_group_rule": rule})["security_group_rule"]
    _show(args, created, "id", ("id", "security_group_id", "direction", "ethertype",
                                 "protocol", "port_range_min", "port_range_max",
                                 "remote_ip_prefix"))
    return 0


def rule_delete(args) -> int:
    client = ComputeClient.from_args(args)
    client.network("DELETE", f"/v2.0/security-group-rules/{urllib.parse.quote(args.rule, safe='')}")
    return 0


# floating IPs ----------------------------------------------------------------------------
def floating_create(args) -> int:
    client = ComputeClient.from_args(args)
    network = client.resolve_network_item("networks", args.network)
    attrs = {"floating_network_id": network["id"]}
    if args.server:
        server = client.resolve_server(args.server)
        ports = client.network("GET", f"/v2.0/ports?device_id={server['id']}")["ports"]
        if not ports:
            raise CLIError(f"server {args.server!r} has no port: boot it with --network")
        ports.sort(key=lambda p: p.get("created_at") or "")
        attrs["port_id"] = ports[0]["id"]
    fip = client.network("POST", "/v2.0/floatingips", {"floatingip": attrs})["floatingip"]
    _show(args, fip, "floating_ip_address", ("id", "floating_ip_address", "fixed_ip_address",
                                              "port_id", "floating_network_id", "status"))
    return 0


def floating_list(args) -> int:
    client = ComputeClient.from_args(args)
    fips = client.network("GET", "/v2.0/floatingips")["floatingips"]
    if args.format == "json":
        print_json(fips)
    elif args.format == "value":
        print("\n".join(f["floating_ip_address"] for f in fips))
    else:
        print_table(["ID", "Floating IP", "Fixed IP", "Port", "Network"],
                    [[f["id"], f["floating_ip_address"], f["fixed_ip_address"], f["port_id"],
                      f["floating_network_id"]] for f in fips])
    return 0


def floating_delete(args) -> int:
    client = ComputeClient.from_args(args)
    fips = client.network("GET", "/v2.0/floatingips")["floatingips"]
    match = [f for f in fips if args.floating_ip in (f["id"], f["floating_ip_address"])]
    if not match:
        raise CLIError(f"no floating IP {args.floating_ip!r}")
    client.network("DELETE", f"/v2.0/floatingips/{match[0]['id']}")
    return 0
