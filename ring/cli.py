"""`ring-builder <builder_file> <command>`: the operator's tool for shaping a ring.

Commands (swift-ring-builder style): create, add, remove, set_weight, rebalance,
pretend_min_part_hours_passed, write_ring, validate, dispersion, show (also the bare form).
Read commands take `--json`. A failing command prints one line to stderr, exits non-zero and
leaves the builder file untouched; changes are saved atomically with a backup of the old file.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator

from ring.builder import RingBuilder
from ring.devices import RingError, parse_add_spec, parse_search

PROG = "ring-builder"


class UsageError(Exception):
    """Bad command line, reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # never print argparse's multi-line usage + exit
        raise UsageError(f"{self.prog}: {message}")


def _parser(command: str) -> _Parser:
    return _Parser(prog=f"{PROG} FILE {command}", add_help=False)


@contextlib.contextmanager
def _exclusive(path: str) -> Iterator[None]:
    """Hold `.<builder name>.lock` beside the builder so two changes cannot interleave."""
    directory, name = os.path.split(os.path.abspath(path))
    lock_path = os.path.join(directory, f".{name}.lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RingError(f"{path} is being changed by another ring-builder; try again") \
                from None
        yield
    finally:
        os.close(fd)


READ_ONLY = ("show", "validate", "dispersion")


def _load(path: str) -> RingBuilder:
    if not os.path.exists(path):
        raise RingError(f"{path}: no such builder file (use `{PROG} {path} create ...`)")
    return RingBuilder.load(path)


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{what} must be an integer, got {text!r}") from None


def _parse_weight(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"weight must be a number, got {text!r}") from None


# ---------------------------------------------------------------------- commands
def cmd_create(path: str, args: list[str]) -> int:
    parser = _parser("create")
    parser.add_argument("part_power")
    parser.add_argument("replicas")
    parser.add_argument("min_part_hours")
    parser.add_argument("--seed", default="0")
    opts = parser.parse_args(args)
    if os.path.exists(path):
        raise RingError(f"{path} already exists; refusing to overwrite it")
    builder = RingBuilder(
        _parse_int(opts.part_power, "part_power"),
        _parse_int(opts.replicas, "replicas"),
        _parse_int(opts.min_part_hours, "min_part_hours"),
        seed=_parse_int(opts.seed, "seed"),
    )
    builder.save(path)
    print(f"created {path}: {builder.parts} partitions, {builder.replicas} replicas, "
          f"min_part_hours {builder.min_part_hours}")
    return 0


def cmd_add(path: str, args: list[str]) -> int:
    builder = _load(path)
    if args and args[0].startswith("--"):
        parser = _parser("add")
        for flag in ("region", "zone", "ip", "port", "device", "weight"):
            parser.add_argument(f"--{flag}", required=True)
        parser.add_argument("--meta", default="")
        opts = parser.parse_args(args)
        specs = [(
            {
                "region": _parse_int(opts.region, "region"),
                "zone": _parse_int(opts.zone, "zone"),
                "ip": opts.ip,
                "port": _parse_int(opts.port, "port"),
                "device": opts.device,
                "meta": opts.meta,
            },
            _parse_weight(opts.weight),
        )]
    else:
        if not args or len(args) % 2:
            raise UsageError(f"usage: {PROG} FILE add r<region>z<zone>-<ip>:<port>/<device> "
                             "<weight> [...]  or  add --region R --zone Z --ip IP --port P "
                             "--device D --weight W")
        specs = [(parse_add_spec(args[i]), _parse_weight(args[i + 1]))
                 for i in range(0, len(args), 2)]
    added = []
    for fields, weight in specs:
        dev_id = builder.add_dev(weight=weight, **fields)
        added.append(builder.devs[dev_id])
    builder.save(path)
    for dev in added:
        print(f"added device {dev.describe()} weight {dev.weight:g}")
    return 0


def _change_devices(path: str, search: str, change, report) -> int:
    """Apply `change(builder, dev)` to every device `search` matches, save, report each."""
    builder = _load(path)
    found = builder.search(parse_search(search))
    for dev in found:
        change(builder, dev)
    builder.save(path)
    for dev in found:
        print(report(dev))
    return 0


def cmd_remove(path: str, args: list[str]) -> int:
    parser = _parser("remove")
    parser.add_argument("search")
    opts = parser.parse_args(args)
    return _change_devices(
        path, opts.search,
        lambda builder, dev: builder.remove_dev(dev.id),
        lambda dev: f"removed device {dev.describe()}; its partitions move at the next rebalance",
    )


def cmd_set_weight(path: str, args: list[str]) -> int:
    parser = _parser("set_weight")
    parser.add_argument("search")
    parser.add_argument("weight")
    opts = parser.parse_args(args)
    weight = _parse_weight(opts.weight)
    return _change_devices(
        path, opts.search,
        lambda builder, dev: builder.set_dev_weight(dev.id, weight),
        lambda dev: f"set weight of {dev.describe()} to {weight:g}",
    )


def cmd_rebalance(path: str, args: list[str]) -> int:
    parser = _parser("rebalance")
    parser.add_argument("--seed", default=None)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args(args)
    seed = None if opts.seed is None else _parse_int(opts.seed, "seed")
    builder = _load(path)
    stats = builder.rebalance(seed=seed)
    builder.save(path)
    if opts.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        print(f"reassigned {stats['moved']} of {builder.replicas * builder.parts} replica "
              f"assignments ({100 * stats['moved_fraction']:.2f}%); max balance "
              f"{stats['max_balance']:.2f}%; {stats['badly_dispersed']} partitions badly "
              "dispersed")
    return 0


def cmd_pretend(path: str, args: list[str]) -> int:
    _parser("pretend_min_part_hours_passed").parse_args(args)
    builder = _load(path)
    builder.pretend_min_part_hours_passed()
    builder.save(path)
    print("every partition may move again at the next rebalance")
    return 0


def cmd_write_ring(path: str, args: list[str]) -> int:
    _parser("write_ring").parse_args(args)
    builder = _load(path)
    ring_path = builder.write_ring(builder.ring_path_for(path))
    print(f"wrote {ring_path}")
    return 0


def _read_opts(command: str, args: list[str]) -> argparse.Namespace:
    parser = _parser(command)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(args)


def cmd_validate(path: str, args: list[str]) -> int:
    opts = _read_opts("validate", args)
    problems = _load(path).validate()
    if opts.json:
        print(json.dumps({"ok": not problems, "problems": problems}))
        return 1 if problems else 0
    if problems:
        raise RingError(f"{path}: invalid: " + "; ".join(problems))
    print(f"{path}: ok")
    return 0


def _dispersion_line(report: dict) -> str:
    if report["badly_dispersed"] is None:
        return "Dispersion: not rebalanced yet"
    sharing = ", ".join(f"{tier} {n}" for tier, n in report["sharing"].items())
    return (f"Dispersion: {report['badly_dispersed']} of {report['partitions']} partitions "
            f"badly dispersed; partitions with replicas sharing a {sharing}")


def cmd_dispersion(path: str, args: list[str]) -> int:
    opts = _read_opts("dispersion", args)
    report = _load(path).dispersion()
    if opts.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(_dispersion_line(report))
    return 0


def cmd_show(path: str, args: list[str]) -> int:
    opts = _read_opts("show", args)
    builder = _load(path)
    if opts.json:
        state = builder.to_dict()
        state["dispersion"] = builder.dispersion()
        print(json.dumps(state))
        return 0
    state = builder.to_dict(with_assignments=False)
    devices = state["devices"]
    regions = {d["region"] for d in devices}
    zones = {(d["region"], d["zone"]) for d in devices}
    print(f"{path}, build version {state['version']}")
    print(f"{state['partitions']} partitions, {state['replicas']} replicas, {len(regions)} "
          f"regions, {len(zones)} zones, {len(devices)} devices, "
          f"{builder.max_balance():.2f} max balance, min_part_hours {state['min_part_hours']}, "
          f"seed {state['seed']}")
    if not state["rebalanced"]:
        print("not rebalanced yet")
    elif state["devices_changed_since_rebalance"]:
        print("devices changed since the last rebalance")
    header = f"{'id':>5} {'region':>6} {'zone':>5} {'ip':>15} {'port':>6} {'device':>10} " \
             f"{'weight':>9} {'parts':>8} {'balance':>8} meta"
    print(header)
    for d in devices:
        print(f"{d['id']:>5} {d['region']:>6} {d['zone']:>5} {d['ip']:>15} {d['port']:>6} "
              f"{d['device']:>10} {d['weight']:>9.2f} {d['parts']:>8} {d['balance']:>8.2f} "
              f"{d['meta']}")
    print(_dispersion_line(builder.dispersion()))
    return 0


COMMANDS = {
    "create": cmd_create,
    "add": cmd_add,
    "remove": cmd_remove,
    "set_weight": cmd_set_weight,
    "rebalance": cmd_rebalance,
    "pretend_min_part_hours_passed": cmd_pretend,
    "write_ring": cmd_write_ring,
    "validate": cmd_validate,
    "dispersion": cmd_dispersion,
    "show": cmd_show,
}

USAGE = (f"usage: {PROG} <builder_file> [{'|'.join(COMMANDS)}] [args] "
         "(bare form shows the builder)")


def run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    path, rest = argv[0], argv[1:]
    if not rest or rest[0].startswith("--"):
        command, args = "show", rest
    else:
        command, args = rest[0], rest[1:]
    handler = COMMANDS.get(command)
    if handler is None:
        raise UsageError(f"unknown command {command!r}; {USAGE}")
    if command in READ_ONLY:
        return handler(path, args)
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise RingError(f"{path}: directory does not exist")
    with _exclusive(path):
        return handler(path, args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except RingError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was saved", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: still one line, never a traceback
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
