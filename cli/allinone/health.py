"""Waiting for the all-in-one cluster's servers to answer `GET /healthcheck`.

`wait_healthy` polls every starting server until each answers 200, and fails fast with a
`StartupError` naming the server (with the last lines of its log) as soon as one exits or
the deadline passes. Processes without an HTTP endpoint count as up while they keep running.
A stop signal (`cli.allinone.stop_signals`) is checked between any two probes.
"""
from __future__ import annotations

import subprocess
import time

from cli.allinone import processes
from cli.allinone.layout import Layout, ProcessSpec
from cli.allinone.stop_signals import StopSignals
from common.http_client import HTTPClient, HTTPClientError

PROBES = HTTPClient(retries=0, max_body=4096)


class StartupError(Exception):
    """A process died or never became healthy; the message names it and shows its log."""

    def __init__(self, message: str, spec: ProcessSpec | None = None):
        super().__init__(message)
        self.spec = spec


def healthcheck(ip: str, port: int, timeout: float = 1.0) -> bool:
    host = f"[{ip}]" if ":" in ip else ip
    try:
        response = PROBES.request("GET", f"http://{host}:{port}/healthcheck", timeout=timeout)
    except HTTPClientError:
        return False
    return response.status == 200


def describe_failure(layout: Layout, spec: ProcessSpec, what: str) -> str:
    tail = processes.log_tail(layout, spec)
    lines = [f"{spec.name} {what} (log: {layout.log_path(spec.name)})"]
    lines += [f"    {line}" for line in tail if not line.startswith("---- ")]
    return "\n".join(lines)


def wait_healthy(
    layout: Layout,
    started: dict[str, tuple[ProcessSpec, subprocess.Popen]],
    timeout: float = 30.0,
    settle: float = 0.3,
    signals: StopSignals | None = None,
) -> None:
    """Block until every started process is healthy; raise StartupError otherwise
    (`Interrupted` as soon as `signals` saw a stop signal)."""
    signals = signals or StopSignals()
    deadline = time.monotonic() + timeout
    pending = dict(started)
    first_seen = time.monotonic()
    while pending:
        for name, (spec, proc) in list(pending.items()):
            signals.check()
            code = proc.poll()
            if code is not None:
                raise StartupError(
                    describe_failure(layout, spec, f"exited with code {code}"), spec
                )
            if spec.port is None:
                if time.monotonic() - first_seen >= settle:
                    del pending[name]
            elif healthcheck(spec.ip, spec.port, timeout=0.5):
                del pending[name]
        if not pending:
            break
        if time.monotonic() > deadline:
            spec = next(iter(pending.values()))[0]
            raise StartupError(
                describe_failure(
                    layout, spec, f"did not answer {spec.endpoint}/healthcheck in {timeout:.0f}s"
                ),
                spec,
            )
        signals.sleep(0.05)
