"""`brume up`, `brume down` and `brume status`: the all-in-one cluster on loopback.

    brume up [--data-dir DIR] [--proxy-port 8080] [--image-port 9292] [--compute-port 8774]
             [--storage-port 6200] [--identity-port 5000] [--network-port 9696]
             [--volume-port 8776] [--dashboard-port 8000] [--ip-prefix 127.0.0.]
             [--test-driver] [--detach]
    brume down [--data-dir DIR] [--timeout 10] [--with-vms]
    brume status [--data-dir DIR] [--format table|json]

The work is done by `cli.allinone`; this module parses flags and prints.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from cli.allinone import cluster_vms, lifecycle, processes, status, volume_exports
from cli.allinone.configs import read_users
from cli.allinone.health import StartupError
from cli.allinone.layout import (
    Layout,
    check_ip_prefix,
    expand_data_dir,
    load_layout,
)
from cli.allinone.stop_signals import Interrupted, StopSignals
from cli.main import CLIError
from common.config import ConfigError

PORT_FLAGS = {
    "proxy_port": 8080,
    "image_port": 9292,
    "compute_port": 8774,
    "storage_port": 6200,
    "identity_port": 5000,
    "network_port": 9696,
    "volume_port": 8776,
    "dashboard_port": 8000,
}
# Ports of services added after a data dir may have been created: its cluster.json then has
# the default, which a flag may still change until the service's config is written.
LATER_SERVICE_PORTS = {"identity_port": "identity-api", "network_port": "network-api",
                       "volume_port": "volume-api", "dashboard_port": "dashboard"}


def say(line: str = "") -> None:
    print(line, flush=True)


def register(subparsers) -> None:
    up = subparsers.add_parser("up", help="start the all-in-one cluster on loopback")
    add_data_dir(up)
    for name, default in PORT_FLAGS.items():
        up.add_argument("--" + name.replace("_", "-"), dest=name, type=port, default=None,
                        help=f"default {default}")
    up.add_argument("--ip-prefix", default=None,
                    help="storage node N listens on PREFIX+N (default 127.0.0.)")
    up.add_argument("--test-driver", action="store_true",
                    help="compute agents use libvirt's test driver instead of qemu:///system")
    up.add_argument("-d", "--detach", action="store_true",
                    help="return once every server is up, leaving them running")
    up.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for each wave of servers to answer /healthcheck")
    up.set_defaults(func=one_line_errors(cmd_up))

    down = subparsers.add_parser("down", help="stop the all-in-one cluster")
    add_data_dir(down)
    down.add_argument("--timeout", type=float, default=10.0,
                      help="seconds between SIGTERM and SIGKILL (default 10)")
    down.add_argument("--with-vms", action="store_true",
                      help="also destroy and undefine this cluster's VMs on its hypervisor")
    down.set_defaults(func=one_line_errors(cmd_down))

    st = subparsers.add_parser("status", help="show the all-in-one cluster's processes and health")
    add_data_dir(st)
    st.add_argument("--format", choices=("table", "json"), default="table")
    st.set_defaults(func=one_line_errors(cmd_status))


def one_line_errors(handler):
    """Print CLI and config errors as one line and exit 1 (whichever copy of the dispatcher
    module runs us: `python -m cli.main` loads it twice)."""

    def run(args) -> int:
        try:
            return handler(args)
        except (CLIError, ConfigError) as exc:
            print(f"brume: {exc}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # `brume status | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return run


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="cluster data dir (default ~/.brume)")


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65533:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value


def existing_layout(args) -> Layout:
    data_dir = expand_data_dir(args.data_dir)
    try:
        layout = load_layout(data_dir)
    except ConfigError as exc:
        raise CLIError(str(exc)) from None
    if layout is None:
        raise CLIError(f"no cluster in {data_dir} (start one with `brume up --data-dir "
                       f"{data_dir}`)")
    return layout


def layout_for_up(args) -> Layout:
    data_dir = expand_data_dir(args.data_dir)
    layout = load_layout(data_dir)
    if layout is None:
        layout = Layout(data_dir=data_dir)
        for name, default in PORT_FLAGS.items():
            setattr(layout, name, getattr(args, name) or default)
        layout.ip_prefix = args.ip_prefix or layout.ip_prefix
        check_ip_prefix(layout.ip_prefix)
    else:
        for name in PORT_FLAGS:
            wanted = getattr(args, name)
            if wanted and name in LATER_SERVICE_PORTS \
                    and not os.path.exists(layout.spec(LATER_SERVICE_PORTS[name]).conf_path):
                setattr(layout, name, wanted)
            elif wanted and wanted != getattr(layout, name):
                say(f"note: {data_dir} was created with --{name.replace('_', '-')} "
                    f"{getattr(layout, name)}; keeping it (its configs name that port)")
        if args.ip_prefix and args.ip_prefix != layout.ip_prefix:
            say(f"note: {data_dir} was created with --ip-prefix {layout.ip_prefix}; keeping it")
    layout.test_driver = bool(args.test_driver)
    return layout


def cmd_up(args) -> int:
    """Stop signals are flags from the first line on; whatever was started before the
    cluster is handed off (detached) or supervised to its end is stopped on the way out."""
    with StopSignals() as signals:
        try:
            return start_and_run(args, signals)
        except Interrupted as exc:
            say(f"brume: {exc} before the cluster was up; stopped every process it started")
            return exc.exit_code
        except StartupError as exc:
            say(f"brume: cluster failed to start: {exc}")
            return 1
        except ConfigError as exc:
            raise CLIError(str(exc)) from None


def start_and_run(args, signals: StopSignals) -> int:
    layout = layout_for_up(args)
    lifecycle.check_not_running(layout)
    specs, notes = lifecycle.runnable_specs(layout)
    lifecycle.check_ports_free(specs)
    signals.check()
    created = lifecycle.prepare(layout, specs)
    if created:
        say(f"created in {layout.data_dir}: {', '.join(created)}")
    notes += lifecycle.apply_driver_choice(layout, specs, signals)
    for note in notes:
        say(f"note: {note}")
    fallback = None
    if not layout.test_driver:
        fallback = lifecycle.agent_fallback_to_test_driver(layout, specs, say)
    started = lifecycle.start_all(layout, specs, timeout=args.timeout,
                                  agent_fallback=fallback, signals=signals)
    handed_off = False
    try:
        print_summary(layout, list(s for s, _ in started.values()))
        signals.check()
        if args.detach:
            handed_off = True
            say(f"detached; stop it with: brume down --data-dir {layout.data_dir}")
            return 0
        say("running in the foreground; Ctrl-C stops the cluster")
        return lifecycle.supervise(layout, started, say, signals)
    finally:
        if not handed_off:  # interrupted, or printing failed: nothing keeps running
            lifecycle.stop_started(layout, started, signals=signals)


def print_summary(layout: Layout, specs) -> None:
    say(f"cluster up in {layout.data_dir} ({len(specs)} processes; logs in {layout.log_dir})")
    names = {s.kind for s in specs}
    if "proxy" in names:
        say(f"  object store  {layout.proxy_url}/v1   auth {layout.auth_url}")
    if "image" in names:
        say(f"  image API     {layout.image_url}")
    if "compute" in names:
        say(f"  compute API   {layout.compute_url}/v2.1")
    if "identity" in names:
        say(f"  identity API  {layout.identity_url}/v3   (Keystone v3; token key "
            f"{layout.token_key_file})")
    if "network" in names:
        say(f"  network API   {layout.network_url}/v2.0   (Keystone tokens)")
    if "volume" in names:
        say(f"  volume API    {layout.volume_url}/v3   (Keystone tokens; block-storage)")
    if "dashboard" in names:
        say(f"  dashboard     {layout.dashboard_url}/   (log in as a user below, e.g. tester)")
    for node in layout.nodes:
        ports = "/".join(str(s.port) for s in specs if s.node == node and s.port)
        if ports:
            say(f"  node {node}        {layout.node_ip(node)}:{ports}  "
                f"device {layout.device_path(node)}")
    users = read_users(layout.spec("proxy").conf_path)
    if users:
        say("  users (account:user key roles):")
        for name, (key, roles) in users.items():
            say(f"    {name} {key} {' '.join(roles)}".rstrip())
    say(f"  e.g. swift -A {layout.auth_url} -U test:tester -K testing stat")
    if "identity" in names:
        say(f"       openstack --os-auth-url {layout.identity_url}/v3 --os-project-name test \\")
        say("           --os-username tester --os-password testing --os-user-domain-name \\")
        say("           Default --os-project-domain-name Default network list")


def cmd_down(args) -> int:
    layout = existing_layout(args)
    specs = layout.all_specs()
    adopted = processes.adopt_untracked(layout, specs)
    if adopted:
        say(f"found without a pid file: {', '.join(adopted)}")
    alive = lifecycle.running(layout)
    if not alive:
        for spec in specs:
            processes.remove_pid(layout, spec)
        say(f"no cluster processes running in {layout.data_dir}")
    else:
        killed = lifecycle.stop_in_order(layout, specs, timeout=args.timeout)
        say(f"stopped {len(alive)} processes in {layout.data_dir}"
            + (f" (killed after {args.timeout:g}s: {', '.join(killed)})" if killed else ""))
    code = report_vms(layout, remove=args.with_vms)
    if args.with_vms:
        stopped = volume_exports.stop_all(layout)
        if stopped:
            say(f"stopped {stopped} volume export(s) (qemu-nbd)")
    elif volume_exports.running(layout):
        say(f"{len(volume_exports.running(layout))} volume export(s) (qemu-nbd) still "
            "running for attached volumes; --with-vms stops them")
    return code


def report_vms(layout: Layout, remove: bool) -> int:
    """Say what is left of this cluster on its hypervisors (after its agents stopped);
    with `remove`, destroy and undefine it."""
    from compute.driver import DriverError

    for hypervisor in cluster_vms.hypervisors(layout):
        if not hypervisor.keeps_vms:
            say(f"no VMs left on {hypervisor.uri} (libvirt's test driver: they ended with "
                "the agents)")
            continue
        try:
            if remove:
                removed = cluster_vms.remove(hypervisor)
                say(f"destroyed and undefined {vm_count(removed)} on {hypervisor.uri}")
                continue
            vms = cluster_vms.count(hypervisor)
        except DriverError as exc:
            if remove:
                raise CLIError(str(exc)) from None
            say(f"note: cannot count this cluster's VMs: {exc}")
            continue
        if not vms.defined:
            say(f"no VMs of this cluster on {hypervisor.uri}")
            continue
        defined = f" ({vms.defined} defined)" if vms.defined != vms.running else ""
        say(f"{vm_count(vms.running)} still running on {hypervisor.uri}{defined}; "
            f"`brume down --data-dir {layout.data_dir} --with-vms` destroys and undefines them")
    return 0


def vm_count(count: int) -> str:
    return f"{count} VM" if count == 1 else f"{count} VMs"


def cmd_status(args) -> int:
    layout = existing_layout(args)
    report = status.collect(layout)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        for line in status.format_table(report):
            say(line)
    return 0 if report["all_up"] else 3
