"""`brume server|keypair|flavor|hypervisor|quota|usage ...`: the compute commands of the CLI.

    brume server create --name N --image NAME_OR_ID --flavor NAME_OR_ID [--wait]
                        [--network NET]... [--key-name K] [--user-data FILE] [--config-drive]
    brume server list | show S | stop S | start S | reboot [--hard] S
    brume server console-log S [--lines N] | console S | delete S [--wait]
    brume server snapshot|backup|shelve|unshelve|resize|migrate|rebuild|... (cli.server_day2)
    brume keypair create NAME [--public-key FILE] | list | delete NAME
    brume flavor list | create NAME --vcpus N --ram MiB --disk GB | delete F
    brume hypervisor list
    brume quota show [--project P] | set [--project P] [--instances N] [--cores N] [--ram MiB]
    brume usage [--project P] [--start ISO] [--end ISO]

Tables by default, `--format json` for scripts. Credentials: cli.credentials.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.parse

from cli.compute_client import ComputeClient
from cli.compute_output import print_fields, print_json, print_table
from cli.credentials import add_credential_flags
from cli.main import CLIError

WAIT_INTERVAL = 1.0


def guarded(handler):
    """Report CLIError as one line and exit 1 here, whichever copy of the dispatcher runs
    (`python -m cli.main` loads it twice, as __main__ and by name)."""

    def run(args) -> int:
        try:
            return handler(args)
        except CLIError as exc:
            print(f"brume: {exc}", file=sys.stderr)
            return 1

    return run


def leaf(group, name: str, handler, help_text: str, formats=("table", "json")
         ) -> argparse.ArgumentParser:
    """A command `name` of `group` with the credential flags and --format (the first of
    `formats` by default) that runs `handler` (`guarded`)."""
    parser = group.add_parser(name, help=help_text)
    add_credential_flags(parser)
    parser.add_argument("--format", choices=formats, default=formats[0])
    parser.set_defaults(func=guarded(handler))
    return parser


def register(subparsers) -> None:
    server = subparsers.add_parser("server", help="boot and manage servers (VMs)")
    group = server.add_subparsers(dest="server_command", metavar="ACTION")
    group.required = True
    create = leaf(group, "create", server_create, "boot a server")
    create.add_argument("--name", required=True)
    create.add_argument("--image", required=True, help="image name or id")
    create.add_argument("--flavor", required=True, help="flavor name or id")
    create.add_argument("--availability-zone", dest="zone")
    create.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                        help="server metadata (repeatable)")
    create.add_argument("--network", action="append", default=[], metavar="NET",
                        help="a NIC on this network, name or id (repeatable; default: the "
                        "project's one network, if it has one)")
    create.add_argument("--key-name", default=None, help="the keypair the guest gets")
    create.add_argument("--user-data", default=None, metavar="FILE",
                        help="user_data for the guest (up to 64 KiB)")
    create.add_argument("--config-drive", action="store_true",
                        help="attach a config drive (keys, user_data, network data)")
    create.add_argument("--wait", action="store_true", help="wait until ACTIVE (or ERROR)")
    create.add_argument("--timeout", type=float, default=300.0)
    listing = leaf(group, "list", server_list, "list servers")
    listing.add_argument("--all-projects", action="store_true")
    listing.add_argument("--name")
    listing.add_argument("--status")
    for name, handler, text in (("show", server_show, "show a server"),
                                ("start", server_start, "start a stopped server"),
                                ("stop", server_stop, "stop a server")):
        command = leaf(group, name, handler, text)
        command.add_argument("server", help="server name or id")
        if name != "show":
            command.add_argument("--wait", action="store_true")
            command.add_argument("--timeout", type=float, default=300.0)
    reboot = leaf(group, "reboot", server_reboot, "reboot a server")
    reboot.add_argument("server")
    reboot.add_argument("--hard", action="store_true")
    reboot.add_argument("--wait", action="store_true")
    reboot.add_argument("--timeout", type=float, default=300.0)
    console = leaf(group, "console-log", server_console, "print a server's console log")
    console.add_argument("server")
    console.add_argument("--lines", type=int, default=None)
    attach = leaf(group, "console", server_attach,
                  "attach the terminal to a server's serial console (Ctrl-] quits)")
    attach.add_argument("server")
    delete = leaf(group, "delete", server_delete, "delete a server")
    delete.add_argument("server")
    delete.add_argument("--wait", action="store_true")
    delete.add_argument("--timeout", type=float, default=300.0)
    from cli import server_day2  # it builds on this module's helpers

    server_day2.register(group)

    keypair = subparsers.add_parser("keypair", help="SSH keypairs for servers")
    group = keypair.add_subparsers(dest="keypair_command", metavar="ACTION")
    group.required = True
    kcreate = leaf(group, "create", keypair_create,
                   "generate a keypair (the private key is printed, once) or import one")
    kcreate.add_argument("name")
    kcreate.add_argument("--public-key", default=None, metavar="FILE",
                         help="import this OpenSSH public key instead")
    leaf(group, "list", keypair_list, "list your keypairs")
    kdelete = leaf(group, "delete", keypair_delete, "delete a keypair")
    kdelete.add_argument("name")

    flavor = subparsers.add_parser("flavor", help="list and manage flavors")
    group = flavor.add_subparsers(dest="flavor_command", metavar="ACTION")
    group.required = True
    leaf(group, "list", flavor_list, "list flavors")
    fcreate = leaf(group, "create", flavor_create, "create a flavor (cloud admin)")
    fcreate.add_argument("name")
    fcreate.add_argument("--id", default=None)
    fcreate.add_argument("--vcpus", type=int, required=True)
    fcreate.add_argument("--ram", type=int, required=True, help="MiB")
    fcreate.add_argument("--disk", type=int, required=True, help="GB")
    fdelete = leaf(group, "delete", flavor_delete, "delete a flavor (cloud admin)")
    fdelete.add_argument("flavor")

    hypervisor = subparsers.add_parser("hypervisor", help="hypervisors (cloud admin)")
    group = hypervisor.add_subparsers(dest="hypervisor_command", metavar="ACTION")
    group.required = True
    leaf(group, "list", hypervisor_list, "list hypervisors with their load")

    quota = subparsers.add_parser("quota", help="project quotas")
    group = quota.add_subparsers(dest="quota_command", metavar="ACTION")
    group.required = True
    qshow = leaf(group, "show", quota_show, "show a project's quotas and usage")
    qshow.add_argument("--project", default=None)
    qset = leaf(group, "set", quota_set, "set a project's quotas (cloud admin)")
    qset.add_argument("--project", default=None)
    for resource in ("instances", "cores", "ram"):
        qset.add_argument(f"--{resource}", type=int, default=None)

    usage = subparsers.add_parser("usage", help="usage for billing")
    add_credential_flags(usage)
    usage.add_argument("--format", choices=("table", "json"), default="table")
    usage.add_argument("--project", default=None)
    usage.add_argument("--start", default=None, help="ISO time; default 30 days ago")
    usage.add_argument("--end", default=None, help="ISO time; default now")
    usage.set_defaults(func=guarded(show_usage))


# helpers -------------------------------------------------------------------------------
def _project_of(client: ComputeClient) -> str:
    """The caller's project: the account named in the token (its payload is plain JSON)."""
    token = client.session.token
    try:
        payload = token.split("_", 1)[1].rsplit(".", 1)[0]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return data["a"]
    except (IndexError, ValueError, KeyError, TypeError):
        account = client.session.storage_url.rstrip("/").rsplit("/", 1)[-1]
        return account.split("_", 1)[-1]


def _wait_for(client: ComputeClient, server_id: str, done, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.try_get(f"/v2.1/servers/{server_id}")
        server = answer["server"] if answer else None
        if done(server):
            return server
        if server is not None and server["status"] == "ERROR":
            message = (server.get("fault") or {}).get("message", "unknown error")
            raise CLIError(f"server {server_id} went to ERROR: {message}")
        if time.monotonic() > deadline:
            state = server["status"] if server else "gone"
            raise CLIError(f"timed out after {timeout:.0f}s waiting for {server_id} ({state})")
        time.sleep(WAIT_INTERVAL)


def _settled(status: str):
    return lambda s: s is not None and s["status"] == status and not s[
        "OS-EXT-STS:task_state"]


SERVER_COLUMNS = ["ID", "Name", "Status", "Task State", "Power State", "Flavor", "Image",
                  "Host"]


def _server_row(server: dict) -> list:
    return [server["id"], server["name"], server["status"], server["OS-EXT-STS:task_state"],
            server["OS-EXT-STS:power_state"], server["flavor"]["id"], server["image"]["id"],
            server.get("OS-EXT-SRV-ATTR:host", "")]


def _show_server(args, server: dict) -> None:
    if args.format == "json":
        print_json(server)
        return
    flat = {k: v for k, v in server.items() if k != "links"}
    flat["flavor"] = server["flavor"]["id"]
    flat["image"] = server["image"]["id"]
    print_fields(flat)


# server ----------------------------------------------------------------------------------
def server_create(args) -> int:
    client = ComputeClient.from_args(args)
    metadata = {}
    for item in args.property:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--property needs KEY=VALUE, got {item!r}")
        metadata[key] = value
    spec = {"name": args.name, "imageRef": client.resolve_image(args.image),
            "flavorRef": client.resolve_flavor(args.flavor)}
    if metadata:
        spec["metadata"] = metadata
    if args.zone:
        spec["availability_zone"] = args.zone
    if args.network:
        spec["networks"] = [{"uuid": client.resolve_network_item("networks", net)["id"]}
                            for net in args.network]
    if args.key_name:
        spec["key_name"] = args.key_name
    if args.user_data:
        spec["user_data"] = base64.b64encode(_read_file(args.user_data)).decode("ascii")
    if args.config_drive:
        spec["config_drive"] = True
    created = client.compute("POST", "/v2.1/servers", {"server": spec})["server"]
    server = client.compute("GET", f"/v2.1/servers/{created['id']}")["server"]
    if args.wait:
        server = _wait_for(client, created["id"], _settled("ACTIVE"), args.timeout)
    _show_server(args, server)
    return 0


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None


def server_list(args) -> int:
    client = ComputeClient.from_args(args)
    query = {}
    if args.all_projects:
        query["all_tenants"] = "1"
    if args.name:
        query["name"] = args.name
    if args.status:
        query["status"] = args.status
    path = "/v2.1/servers/detail" + ("?" + urllib.parse.urlencode(query) if query else "")
    servers = client.compute("GET", path)["servers"]
    if args.format == "json":
        print_json(servers)
    else:
        print_table(SERVER_COLUMNS, [_server_row(s) for s in servers])
    return 0


def server_show(args) -> int:
    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    status = server["status"]
    if status in ("ACTIVE", "SHUTOFF"):
        diagnostics = client.try_get(f"/v2.1/servers/{server['id']}/diagnostics")
        if diagnostics is not None:
            server = {**server, "diagnostics": diagnostics}
    _show_server(args, server)
    return 0


def _power(args, body: dict, final: str) -> int:
    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    client.compute("POST", f"/v2.1/servers/{server['id']}/action", body)
    if args.wait:
        server = _wait_for(client, server["id"], _settled(final), args.timeout)
        _show_server(args, server)
    return 0


def server_start(args) -> int:
    return _power(args, {"os-start": None}, "ACTIVE")


def server_stop(args) -> int:
    return _power(args, {"os-stop": None}, "SHUTOFF")


def server_reboot(args) -> int:
    return _power(args, {"reboot": {"type": "HARD" if args.hard else "SOFT"}}, "ACTIVE")


def server_console(args) -> int:
    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    length = {} if args.lines is None else {"length": args.lines}
    output = client.compute("POST", f"/v2.1/servers/{server['id']}/action",
                            {"os-getConsoleOutput": length})["output"]
    if args.format == "json":
        print_json({"output": output})
    else:
        print(output, end="" if output.endswith("\n") or not output else "\n")
    return 0


def server_attach(args) -> int:
    from cli.serial_console import ConsoleError, ConsoleSession, attach

    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    url = client.compute("POST", f"/v2.1/servers/{server['id']}/remote-consoles",
                         {"remote_console": {"protocol": "serial", "type": "serial"}}
                         )["remote_console"]["url"]
    try:
        session = ConsoleSession(url)
    except ConsoleError as exc:
        raise CLIError(str(exc)) from None
    print(f"Connected to {server['name']}'s serial console; Ctrl-] quits.\r", file=sys.stderr)
    attach(session)
    print("\r", file=sys.stderr)
    return 0


def server_delete(args) -> int:
    client = ComputeClient.from_args(args)
    server = client.resolve_server(args.server)
    client.compute("DELETE", f"/v2.1/servers/{server['id']}")
    if args.wait:
        _wait_for(client, server["id"], lambda s: s is None, args.timeout)
    return 0


# keypairs --------------------------------------------------------------------------------
def keypair_create(args) -> int:
    client = ComputeClient.from_args(args)
    spec = {"name": args.name}
    if args.public_key:
        spec["public_key"] = _read_file(args.public_key).decode("utf-8", "replace").strip()
    keypair = client.compute("POST", "/v2.1/os-keypairs", {"keypair": spec})["keypair"]
    if args.format == "json":
        print_json(keypair)
    elif keypair.get("private_key"):
        print(keypair["private_key"], end="" if keypair["private_key"].endswith("\n") else "\n")
    else:
        print_fields({k: keypair.get(k) for k in ("name", "fingerprint", "type")})
    return 0


def keypair_list(args) -> int:
    client = ComputeClient.from_args(args)
    keypairs = [k["keypair"] for k in client.compute("GET", "/v2.1/os-keypairs")["keypairs"]]
    if args.format == "json":
        print_json(keypairs)
    else:
        print_table(["Name", "Fingerprint"], [[k["name"], k["fingerprint"]] for k in keypairs])
    return 0


def keypair_delete(args) -> int:
    client = ComputeClient.from_args(args)
    client.compute("DELETE", f"/v2.1/os-keypairs/{urllib.parse.quote(args.name, safe='')}")
    return 0


# flavors, hypervisors --------------------------------------------------------------------
def flavor_list(args) -> int:
    client = ComputeClient.from_args(args)
    flavors = client.compute("GET", "/v2.1/flavors/detail")["flavors"]
    if args.format == "json":
        print_json(flavors)
    else:
        print_table(["ID", "Name", "vCPUs", "RAM (MiB)", "Disk (GB)", "Public"],
                    [[f["id"], f["name"], f["vcpus"], f["ram"], f["disk"],
                      f["os-flavor-access:is_public"]] for f in flavors])
    return 0


def flavor_create(args) -> int:
    client = ComputeClient.from_args(args)
    spec = {"name": args.name, "vcpus": args.vcpus, "ram": args.ram, "disk": args.disk}
    if args.id:
        spec["id"] = args.id
    flavor = client.compute("POST", "/v2.1/flavors", {"flavor": spec})["flavor"]
    if args.format == "json":
        print_json(flavor)
    else:
        print_fields({k: v for k, v in flavor.items() if k != "links"})
    return 0


def flavor_delete(args) -> int:
    client = ComputeClient.from_args(args)
    client.compute("DELETE", f"/v2.1/flavors/{client.resolve_flavor(args.flavor)}")
    return 0


def hypervisor_list(args) -> int:
    client = ComputeClient.from_args(args)
    hypervisors = client.compute("GET", "/v2.1/os-hypervisors/detail")["hypervisors"]
    if args.format == "json":
        print_json(hypervisors)
        return 0
    print_table(
        ["ID", "Hostname", "State", "Status", "Zone", "vCPUs used/total", "RAM MiB used/total",
         "Disk GB used/total", "VMs", "Disabled reason"],
        [[h["id"], h["hypervisor_hostname"], h["state"], h["status"], h["availability_zone"],
          f"{h['vcpus_used']}/{h['vcpus']}", f"{h['memory_mb_used']}/{h['memory_mb']}",
          f"{h['local_gb_used']}/{h['local_gb']}", h["running_vms"],
          h["service"]["disabled_reason"]] for h in hypervisors],
    )
    return 0


# quotas and usage ------------------------------------------------------------------------
def quota_show(args) -> int:
    client = ComputeClient.from_args(args)
    project = args.project or _project_of(client)
    quota = client.compute("GET", f"/v2.1/os-quota-sets/{project}?usage=true")["quota_set"]
    if args.format == "json":
        print_json(quota)
        return 0
    print_table(["Resource", "Limit", "In use"],
                [[r, quota[r]["limit"], quota[r]["in_use"]] for r in ("instances", "cores",
                                                                      "ram")])
    return 0


def quota_set(args) -> int:
    client = ComputeClient.from_args(args)
    project = args.project or _project_of(client)
    changes = {r: getattr(args, r) for r in ("instances", "cores", "ram")
               if getattr(args, r) is not None}
    if not changes:
        raise CLIError("nothing to set: give --instances, --cores and/or --ram")
    quota = client.compute("PUT", f"/v2.1/os-quota-sets/{project}",
                           {"quota_set": changes})["quota_set"]
    if args.format == "json":
        print_json(quota)
    else:
        print_fields(quota)
    return 0


def show_usage(args) -> int:
    client = ComputeClient.from_args(args)
    project = args.project or _project_of(client)
    query = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    suffix = "?" + urllib.parse.urlencode(query) if query else ""
    usage = client.compute("GET", f"/v2.1/os-simple-tenant-usage/{project}{suffix}")
    usage = usage["tenant_usage"]
    if args.format == "json":
        print_json(usage)
        return 0
    if not usage:
        print(f"no usage for project {project} in this period")
        return 0
    print(f"Usage of project {project} from {usage['start']} to {usage['stop']}:")
    print_table(
        ["Server", "Name", "State", "Hours", "vCPUs", "RAM MiB", "Disk GB"],
        [[u["instance_id"], u["name"], u["state"], f"{u['hours']:.2f}", u["vcpus"],
          u["memory_mb"], u["local_gb"]] for u in usage["server_usages"]],
    )
    print(f"Total: {usage['total_hours']:.2f} instance-hours, "
          f"{usage['total_vcpus_usage']:.2f} vCPU-hours, "
          f"{usage['total_memory_mb_usage']:.2f} RAM-MB-hours, "
          f"{usage['total_local_gb_usage']:.2f} disk-GB-hours")
    return 0
