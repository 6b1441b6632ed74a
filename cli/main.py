"""Entry point of the `brume` command: dispatches `brume <group> ...` to the module owning it.

Groups are imported lazily so that, say, `brume up` does not load the compute layer.
Each group module exposes `register(subparsers)` adding its commands, whose handlers return
an exit code. Errors reach the user as one line on stderr with a non-zero exit.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command word -> module that registers it
GROUPS = {
    "up": "cli.cluster",
    "down": "cli.cluster",
    "status": "cli.cluster",
    "image": "cli.image",
    "server": "cli.compute",
    "flavor": "cli.compute",
    "hypervisor": "cli.compute",
    "quota": "cli.compute",
    "usage": "cli.compute",
    "keypair": "cli.compute",
    "network": "cli.network",
    "security-group": "cli.network",
    "floating-ip": "cli.network",
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 1."""


def build_parser(modules: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brume", description="Brume cluster and cloud CLI")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    word = next((a for a in argv if not a.startswith("-")), None)
    if word in GROUPS:
        modules = [GROUPS[word]]
    else:
        modules = []
        for name in dict.fromkeys(GROUPS.values()):
            try:
                importlib.import_module(name)
                modules.append(name)
            except ImportError:
                continue
    try:
        parser = build_parser(modules)
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"brume: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
