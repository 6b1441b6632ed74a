"""Bringing the all-in-one cluster up and down: prepare the data dir, start, supervise, stop.

`prepare` writes whatever is missing (configs, rings, device directories) and never touches
what exists. `start_all` starts the processes in two waves (servers in parallel, then the
storage daemons and compute agents that talk to them), waits for every `/healthcheck`, and
on any failure stops what it started and raises a `StartupError` naming the culprit.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time

from storage.allinone import configs, hypervisor, processes, rings
from storage.allinone.health import StartupError, describe_failure, wait_healthy
from storage.allinone.layout import Layout, ProcessSpec, available
from storage.config import ConfigError

# Started after the first wave is healthy: they talk to the servers of the first wave.
SECOND_WAVE_KINDS = ("daemons", "agent")


class AlreadyRunning(ConfigError):
    """`brume up` on a data dir whose cluster is (partly) running."""


def runnable_specs(layout: Layout) -> tuple[list[ProcessSpec], list[str]]:
    """The processes whose code exists, and notes about the ones skipped."""
    specs, notes, skipped = [], [], {}
    for spec in layout.all_specs():
        reason = available(spec)
        if reason is None:
            specs.append(spec)
        else:
            skipped.setdefault(reason, []).append(spec.name)
    for reason, names in skipped.items():
        notes.append(f"skipping {', '.join(names)}: {reason}")
    return specs, notes


def prepare(layout: Layout, specs: list[ProcessSpec]) -> list[str]:
    """Create what is missing in the data dir. Returns a short description of each kind."""
    for path in (layout.conf_dir, layout.log_dir, layout.run_dir):
        os.makedirs(path, exist_ok=True)
    devices = 0
    for node in layout.nodes:
        if not os.path.isdir(layout.device_path(node)):
            os.makedirs(layout.device_path(node))
            devices += 1
    written = int(configs.write_cluster_config(layout))
    written += sum(configs.write_process_config(layout, spec) for spec in specs)
    built = rings.ensure_rings(layout)
    layout.save()
    created = []
    if devices:
        created.append(f"{devices} devices (srv/nodeN/dN)")
    if written:
        created.append(f"{written} configs (etc/)")
    if built:
        created.append(f"{len(built)} rings (etc/*.ring.gz)")
    return created


def running(layout: Layout) -> dict[str, int]:
    """name -> pid of every cluster process that is alive."""
    found = {}
    for spec in layout.all_specs():
        pid = processes.running_pid(layout, spec)
        if pid is not None:
            found[spec.name] = pid
    return found


def check_not_running(layout: Layout) -> None:
    alive = running(layout)
    if alive:
        names = ", ".join(sorted(alive))
        raise AlreadyRunning(
            f"a cluster is already running in {layout.data_dir} ({len(alive)} processes: "
            f"{names}); run `brume down --data-dir {layout.data_dir}` first"
        )


def check_ports_free(specs: list[ProcessSpec]) -> None:
    for spec in specs:
        if spec.port is None:
            continue
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((spec.ip, spec.port))
        except OSError as exc:
            reason = "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ConfigError(
                f"{spec.name} cannot listen on {spec.ip}:{spec.port}: {reason} "
                "(another cluster? pick other ports with --proxy-port/--storage-port/...)"
            ) from None
        finally:
            probe.close()


def start_specs(
    layout: Layout, specs: list[ProcessSpec], timeout: float = 30.0
) -> dict[str, tuple[ProcessSpec, subprocess.Popen]]:
    """Start `specs` in parallel and wait until all are healthy."""
    started = {spec.name: (spec, processes.start(layout, spec)) for spec in specs}
    wait_healthy(layout, started, timeout=timeout)
    return started


def start_all(
    layout: Layout, specs: list[ProcessSpec], timeout: float = 30.0, agent_fallback=None,
) -> dict[str, tuple[ProcessSpec, subprocess.Popen]]:
    """Start the whole cluster; on failure stop everything started and re-raise.

    `agent_fallback()`, when given, is called once if a compute agent fails to start (e.g.
    its hypervisor driver is unusable here); it reconfigures the agents and returns a note,
    and the agents are started again.
    """
    first = [s for s in specs if s.kind not in SECOND_WAVE_KINDS]
    second = [s for s in specs if s.kind in SECOND_WAVE_KINDS]
    started: dict[str, tuple[ProcessSpec, subprocess.Popen]] = {}

    def start_wave(wave):
        for spec in wave:
            started[spec.name] = (spec, processes.start(layout, spec))
        wait_healthy(layout, {s.name: started[s.name] for s in wave}, timeout=timeout)

    try:
        start_wave(first)
        try:
            start_wave(second)
        except StartupError as exc:
            if agent_fallback is None or exc.spec is None or exc.spec.kind != "agent":
                raise
            agents = [s for s in second if s.kind == "agent"]
            processes.stop(layout, agents, timeout=5,
                           children={s.name: started[s.name][1] for s in agents
                                     if s.name in started})
            agent_fallback(str(exc))
            start_wave(agents)
    except BaseException:
        processes.stop(
            layout, [s for s, _ in started.values()], timeout=5,
            children={n: p for n, (_, p) in started.items()},
        )
        raise
    return started


def agent_fallback_to_test_driver(layout: Layout, specs: list[ProcessSpec], say):
    """A fallback for start_all: point the agents at libvirt's test driver, say why."""
    agents = [s for s in specs if s.kind == "agent"]

    def fallback(reason: str) -> None:
        first_line = reason.splitlines()[0]
        last_line = reason.strip().splitlines()[-1].strip()
        say(f"note: {first_line}: {last_line}")
        say(f"note: compute agents fall back to the test driver ({hypervisor.TEST_URI}); "
            "servers will not run real VMs")
        for spec in agents:
            configs.set_option_anywhere(spec.conf_path, "libvirt_uri", hypervisor.TEST_URI)

    return fallback


def apply_driver_choice(layout: Layout, specs: list[ProcessSpec]) -> list[str]:
    """Point the agents' configs at the libvirt URI chosen for this run."""
    agents = [s for s in specs if s.kind == "agent"]
    if not agents:
        return []
    uri, notes = hypervisor.choose_libvirt_uri(layout.test_driver)
    for spec in agents:
        configs.set_option_anywhere(spec.conf_path, "libvirt_uri", uri)
    return notes + [f"compute agents use libvirt at {uri}"]


def supervise(
    layout: Layout,
    started: dict[str, tuple[ProcessSpec, subprocess.Popen]],
    say,
    poll_interval: float = 0.5,
) -> int:
    """Stay in the foreground until SIGINT/SIGTERM/SIGHUP; report deaths; then stop all."""
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in watched}
    reported: set[str] = set()
    try:
        while not stopping:
            exited = [
                (name, spec, code) for name, (spec, proc) in started.items()
                if name not in reported and (code := proc.poll()) is not None
            ]
            if exited and len(reported) + len(exited) == len(started):
                say("every cluster process has stopped (brume down from another shell?)")
                return 0
            for name, spec, code in exited:
                reported.add(name)
                say(describe_failure(layout, spec, f"exited with code {code}"))
                if not processes.running_pid(layout, spec):
                    processes.remove_pid(layout, spec)
            time.sleep(poll_interval)
        say("stopping the cluster ...")
        killed = processes.stop(
            layout, [s for s, _ in started.values()],
            children={n: p for n, (_, p) in started.items()},
        )
        if killed:
            say(f"killed after timeout: {', '.join(killed)}")
        say("cluster stopped")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


__all__ = [
    "AlreadyRunning",
    "StartupError",
    "apply_driver_choice",
    "check_not_running",
    "check_ports_free",
    "prepare",
    "runnable_specs",
    "running",
    "start_all",
    "start_specs",
    "supervise",
]
