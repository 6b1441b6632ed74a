"""Bringing the all-in-one cluster up and down: prepare the data dir, start, supervise, stop.

`prepare` writes whatever is missing (configs, the token key file, rings, device
directories) and never touches what exists. `start_all` starts the processes in two waves
(servers in parallel, then the storage daemons, compute agents, network and volume services
that talk to them: those two poll the identity service's revocation events), waits for
every `/healthcheck`, and on any failure stops what it started and raises a `StartupError`
naming the culprit (or `Interrupted` when a stop signal came). Every process is recorded the
moment it is spawned and `stop_started` is the one way they are stopped (SIGTERM, SIGKILL
after a timeout or at a second signal), the second wave first (`stop_in_order`, which
`brume down` uses too). Signals are only flags (`stop_signals.StopSignals`) checked between
spawns and inside every wait.
"""
from __future__ import annotations

import errno
import os
import socket
import subprocess

from cli.allinone import configs, hypervisor, processes, rings
from cli.allinone.health import StartupError, describe_failure, wait_healthy
from cli.allinone.layout import Layout, ProcessSpec, available
from cli.allinone.stop_signals import StopSignals
from common.config import ConfigError

# Started after the first wave is healthy, and stopped before it: they talk to the servers
# of the first wave (storage servers; compute API; the identity service).
SECOND_WAVE_KINDS = ("daemons", "agent", "network", "volume")


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
    written += configs.write_token_keys(layout)
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
    processes.adopt_untracked(layout, layout.all_specs())
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


Started = dict[str, tuple[ProcessSpec, subprocess.Popen]]


def stop_started(
    layout: Layout, started: Started, timeout: float = 5.0, signals: StopSignals | None = None,
) -> list[str]:
    """Stop every process `brume up` started: SIGTERM, then SIGKILL after `timeout` (or at
    once when a second stop signal came). Returns the names that needed SIGKILL."""
    signals = signals or StopSignals()
    return stop_in_order(
        layout, [spec for spec, _ in started.values()], timeout=timeout,
        children={name: proc for name, (_, proc) in started.items()},
        hurry=lambda: signals.hurried,
    )


def stop_in_order(
    layout: Layout, specs: list[ProcessSpec], timeout: float = 10.0,
    children: dict[str, subprocess.Popen] | None = None, hurry=lambda: False,
) -> list[str]:
    """`processes.stop` the second wave (daemons, agents, network and volume services), then the
    rest, each with `timeout`. Returns the names that needed SIGKILL."""
    later = [s for s in specs if s.kind in SECOND_WAVE_KINDS]
    first = [s for s in specs if s.kind not in SECOND_WAVE_KINDS]
    killed = []
    for wave in (later, first):
        if wave:
            killed += processes.stop(layout, wave, timeout=timeout, children=children,
                                     hurry=hurry)
    return killed


def start_specs(
    layout: Layout, specs: list[ProcessSpec], timeout: float = 30.0
) -> Started:
    """Start `specs` in parallel and wait until all are healthy."""
    started = {spec.name: (spec, processes.start(layout, spec)) for spec in specs}
    wait_healthy(layout, started, timeout=timeout)
    return started


def start_all(
    layout: Layout, specs: list[ProcessSpec], timeout: float = 30.0, agent_fallback=None,
    signals: StopSignals | None = None,
) -> Started:
    """Start the whole cluster; on failure or a stop signal stop everything started and
    re-raise.

    `agent_fallback()`, when given, is called once if a compute agent fails to start (e.g.
    its hypervisor driver is unusable here); it reconfigures the agents and returns a note,
    and the agents are started again.
    """
    signals = signals or StopSignals()
    first = [s for s in specs if s.kind not in SECOND_WAVE_KINDS]
    second = [s for s in specs if s.kind in SECOND_WAVE_KINDS]
    started: Started = {}

    def start_wave(wave):
        for spec in wave:
            signals.check()
            started[spec.name] = (spec, processes.start(layout, spec))
        wait_healthy(layout, {s.name: started[s.name] for s in wave}, timeout=timeout,
                     signals=signals)

    try:
        start_wave(first)
        try:
            start_wave(second)
        except StartupError as exc:
            if agent_fallback is None or exc.spec is None or exc.spec.kind != "agent":
                raise
            agents = {s.name: started[s.name] for s in second
                      if s.kind == "agent" and s.name in started}
            stop_started(layout, agents, signals=signals)
            agent_fallback(str(exc))
            start_wave([s for s in second if s.kind == "agent"])
    except BaseException:
        stop_started(layout, started, signals=signals)
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


def apply_driver_choice(
    layout: Layout, specs: list[ProcessSpec], signals: StopSignals | None = None,
) -> list[str]:
    """Point the agents' configs at the libvirt URI chosen for this run."""
    agents = [s for s in specs if s.kind == "agent"]
    if not agents:
        return []
    uri, notes = hypervisor.choose_libvirt_uri(layout.test_driver, signals or StopSignals())
    for spec in agents:
        configs.set_option_anywhere(spec.conf_path, "libvirt_uri", uri)
    return notes + [f"compute agents use libvirt at {uri}"]


def supervise(
    layout: Layout, started: Started, say, signals: StopSignals, poll_interval: float = 0.5,
) -> int:
    """Stay in the foreground until `signals` sees SIGINT/SIGTERM/SIGHUP; report deaths;
    then stop all."""
    reported: set[str] = set()
    while not signals.requested:
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
        signals.sleep(poll_interval)
    say("stopping the cluster ...")
    killed = stop_started(layout, started, timeout=10.0, signals=signals)
    if killed:
        say(f"killed after timeout: {', '.join(killed)}")
    say("cluster stopped")
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
    "stop_in_order",
    "stop_started",
    "supervise",
]
