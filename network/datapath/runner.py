"""Runs the datapath's commands, in the node's network namespace or in a named one.

Every kernel change the datapath makes goes through `Runner.run`, so a caller (a test, or a
node whose networks live in a namespace) can aim all of it at `ip netns exec <name>`.
A non-zero exit raises `DatapathError` with the command and its stderr's first line.
"""
from __future__ import annotations

import subprocess

from network.datapath.errors import DatapathError

TIMEOUT = 60


class Runner:
    """Runs argv lists, optionally inside network namespace `netns`."""

    def __init__(self, netns: str | None = None):
        self.netns = netns

    def command(self, argv: list[str]) -> list[str]:
        """The argv as it is really run."""
        return (["ip", "netns", "exec", self.netns] if self.netns else []) + list(argv)

    def run(self, argv: list[str], stdin: str | None = None) -> str:
        """Run argv; its stdout, or DatapathError when it fails."""
        command = self.command(argv)
        try:
            result = subprocess.run(command, input=stdin, capture_output=True, text=True,
                                    timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DatapathError(command, str(exc).splitlines()[0]) from exc
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            detail = lines[0] if lines else f"exit status {result.returncode}"
            raise DatapathError(command, detail)
        return result.stdout
