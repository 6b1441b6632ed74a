"""Runs the storage daemons of one node: `python -m storage.daemons.runner CONF [--once NAME]`.

Without `--once`, every enabled daemon of `CONF` (storage-daemons.conf: a `[daemons]` section
shared by all, then one section per daemon) runs as a green thread in this one process, looping
in passes: a pass, its record written to the recon dir, then a sleep until `interval` seconds
after the pass started (a little jitter spreads the nodes). A pass that raises is logged and
recorded as failed; the loop goes on. SIGTERM/SIGINT stop the process.

Off loopback (`storage.daemons.context.node_addresses`), a development default among the
cluster's secrets in force (brume.conf) is refused like the servers refuse it.

`--once NAME` runs a single pass of one daemon (enabled or not), records it, prints its counts
as one JSON line and exits 0 when the pass had no failures, 1 when it had some or crashed. A
config error prints one line and exits 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import random
import signal
import sys
import time

from common.backend_auth import refuse_dev_cluster_secrets
from common.config import ConfigError, is_loopback, load_section, read_ini
from storage.daemons.context import COMMON_OPTIONS, Daemon, NodeContext, node_addresses
from storage.recon import pass_record, write_record

# daemon name (= its config section and recon record) -> class
DAEMONS = {
    "object-replicator": "storage.replication.object_replicator:ObjectReplicator",
    "container-replicator": "storage.replication.db_replicator:ContainerReplicator",
    "account-replicator": "storage.replication.db_replicator:AccountReplicator",
    "object-auditor": "storage.daemons.object_auditor:ObjectAuditor",
    "db-auditor": "storage.daemons.db_auditor:DatabaseAuditor",
    "object-updater": "storage.daemons.object_updater:ObjectUpdater",
    "container-updater": "storage.daemons.container_updater:ContainerUpdater",
    "object-expirer": "storage.daemons.object_expirer:ObjectExpirer",
}
COMMON_SECTION = "daemons"


def daemon_class(name: str) -> type[Daemon]:
    module_name, _, class_name = DAEMONS[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def load(conf_path: str) -> tuple[NodeContext, dict[str, tuple[type[Daemon], dict]]]:
    """Validate the whole config; return the node context and {name: (class, section)}."""
    parser = read_ini(conf_path)
    common = load_section(parser, COMMON_SECTION, COMMON_OPTIONS, conf_path)
    outside = [ip for ip in node_addresses(common) if not is_loopback(ip)]
    if outside:
        refuse_dev_cluster_secrets(outside[0], common["conf_dir"], f"{conf_path}: ",
                                   action="run for node")
    unknown = [s for s in parser.sections() if s != COMMON_SECTION and s not in DAEMONS]
    if unknown:
        raise ConfigError(f"{conf_path}: unknown section [{unknown[0]}]")
    daemons = {}
    for name in DAEMONS:
        cls = daemon_class(name)
        if parser.has_section(name):
            section = load_section(parser, name, cls.OPTIONS, conf_path)
        else:
            section = {opt.name: opt.default for opt in cls.OPTIONS if not opt.required}
        daemons[name] = (cls, section)
    return NodeContext(common), daemons


def run_pass(node: NodeContext, daemon: Daemon) -> dict:
    """One pass of `daemon`, recorded in the recon dir; returns the record."""
    start = time.time()
    error = ""
    counts: dict = {}
    try:
        counts = daemon.run_once() or {}
    except Exception as exc:  # one broken pass must not kill the runner
        daemon.logger.exception("%s pass failed", daemon.name)
        error = f"{type(exc).__name__}: {exc}"
    record = pass_record(daemon.name, start, time.time(), counts, error)
    try:
        write_record(node.recon_dir, daemon.name, record)
    except OSError as exc:
        daemon.logger.error("cannot write recon record: %s", exc)
    return record


def pass_succeeded(record: dict) -> bool:
    return record["status"] == "ok" and not record["counts"].get("failures", 0)


def loop(node: NodeContext, daemon: Daemon, interval: float) -> None:
    from common.green import eventlet

    eventlet.sleep(random.uniform(0, min(interval, 5.0) / 5))
    while True:
        started = time.monotonic()
        run_pass(node, daemon)
        elapsed = time.monotonic() - started
        eventlet.sleep(max(0.5, interval - elapsed) * random.uniform(0.9, 1.1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.daemons.runner")
    parser.add_argument("conf", help="storage-daemons.conf of this node")
    parser.add_argument("--once", metavar="NAME", choices=sorted(DAEMONS),
                        help="run one pass of this daemon and exit")
    args = parser.parse_args(argv)
    from common.green import eventlet

    eventlet.monkey_patch()
    try:
        node, daemons = load(args.conf)
    except ConfigError as exc:
        print(f"brume: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(node.conf["log_level"]).upper(), logging.INFO),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.once:
        cls, section = daemons[args.once]
        record = run_pass(node, cls(node, section))
        print(json.dumps(record, sort_keys=True))
        return 0 if pass_succeeded(record) else 1

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = []
    for name, (cls, section) in daemons.items():
        if section["enabled"]:
            daemon = cls(node, section)
            threads.append(eventlet.spawn(loop, node, daemon, section["interval"]))
            logging.getLogger("brume.daemons").info(
                "%s running every %ss", name, section["interval"]
            )
    if not threads:
        print("brume: no daemon enabled in " + args.conf, file=sys.stderr)
        return 2
    try:
        for thread in threads:
            thread.wait()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
