"""Starting, finding and stopping the all-in-one cluster's processes through pid files.

Each process runs `python -m <module> <conf>` in its own session (so a detached cluster
outlives the `brume up` that started it and a terminal's Ctrl-C reaches only the
supervisor), writes its output to `DIR/logs/<name>.log`, and is recorded in
`DIR/run/<name>.pid`. A pid file only counts while the pid is alive and its command line
still names the process's config, so a stale file or a recycled pid is never signalled. A
live process running a spec's command without a valid pid file (its `brume up` was killed
with SIGKILL right after spawning it) is found by its command line and adopted.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque

from cli.allinone.layout import REPO_ROOT, Layout, ProcessSpec


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def command(spec: ProcessSpec, *extra: str) -> list[str]:
    return [sys.executable, "-m", spec.module, spec.conf_path, *extra]


def start(layout: Layout, spec: ProcessSpec) -> subprocess.Popen:
    """Spawn one process (detached session), log to its log file, record its pid."""
    os.makedirs(layout.log_dir, exist_ok=True)
    os.makedirs(layout.run_dir, exist_ok=True)
    with open(layout.log_path(spec.name), "ab") as log:
        log.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            command(spec),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=layout.data_dir,
            env=child_env(),
            start_new_session=True,
            close_fds=True,
        )
    try:
        write_pid(layout.pid_path(spec.name), proc.pid)
    except BaseException:  # unrecorded, it would outlive us: take it back down
        proc.kill()
        proc.wait()
        raise
    return proc


def write_pid(path: str, pid: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{pid}\n")
    os.replace(tmp, path)


def read_pid(layout: Layout, spec: ProcessSpec) -> int | None:
    try:
        with open(layout.pid_path(spec.name), encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int, conf_path: str | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, if given, its command line names conf_path."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
        if state in ("Z", "X"):
            return False
        if conf_path is None:
            return True
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
        return os.fsencode(conf_path) in argv
    except (OSError, IndexError):
        return False


def running_pid(layout: Layout, spec: ProcessSpec) -> int | None:
    """The pid of spec's live process, or None."""
    pid = read_pid(layout, spec)
    if pid is not None and pid_alive(pid, spec.conf_path):
        return pid
    return None


def find_untracked(layout: Layout, specs: list[ProcessSpec]) -> dict[str, int]:
    """name -> pid of live processes running a spec's command while its pid file is missing
    or stale (left by a `brume up` killed with SIGKILL between a spawn and its record)."""
    wanted = {os.fsencode(spec.conf_path): spec for spec in specs
              if running_pid(layout, spec) is None}
    found: dict[str, int] = {}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            spec = wanted.get(arg)
            if (spec is not None and spec.name not in found
                    and os.fsencode(spec.module) in argv and pid_alive(int(entry))):
                found[spec.name] = int(entry)
    return found


def adopt_untracked(layout: Layout, specs: list[ProcessSpec]) -> list[str]:
    """Write the pid file of every process `find_untracked` finds; their names."""
    found = find_untracked(layout, specs)
    for name, pid in found.items():
        write_pid(layout.pid_path(name), pid)
    return sorted(found)


def remove_pid(layout: Layout, spec: ProcessSpec) -> None:
    try:
        os.unlink(layout.pid_path(spec.name))
    except FileNotFoundError:
        pass


def signal_pid(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def stop(
    layout: Layout,
    specs: list[ProcessSpec],
    timeout: float = 10.0,
    children: dict[str, subprocess.Popen] | None = None,
    hurry=lambda: False,
) -> list[str]:
    """SIGTERM every running process of `specs`, SIGKILL those still up after `timeout`
    (or as soon as `hurry()` is true).

    Returns the names that needed SIGKILL. Pid files are removed. `children` are our own
    Popen objects, when we started them: a live child is signalled by its pid whatever its
    pid file says (an unreaped child's pid cannot be reused), and reaped so it leaves no
    zombie; a child that already exited falls back to its pid file (restarted by someone
    else).
    """
    children = children or {}
    targets: dict[str, tuple[ProcessSpec, int, subprocess.Popen | None]] = {}
    for spec in specs:
        proc = children.get(spec.name)
        if proc is not None and proc.poll() is None:
            targets[spec.name] = (spec, proc.pid, proc)
        elif (pid := running_pid(layout, spec)) is not None:
            targets[spec.name] = (spec, pid, None)
        else:
            remove_pid(layout, spec)
    for _spec, pid, _proc in targets.values():
        signal_pid(pid, signal.SIGTERM)

    def alive(spec, pid, proc) -> bool:
        return proc.poll() is None if proc is not None else pid_alive(pid, spec.conf_path)

    deadline = time.monotonic() + timeout
    while targets and time.monotonic() < deadline and not hurry():
        for name, target in list(targets.items()):
            if not alive(*target):
                remove_pid(layout, target[0])
                del targets[name]
        if targets:
            time.sleep(0.05)
    killed = []
    for name, (spec, pid, proc) in targets.items():
        if not alive(spec, pid, proc):
            remove_pid(layout, spec)
            continue
        signal_pid(pid, signal.SIGKILL)
        killed.append(name)
    gone_by = time.monotonic() + 5
    for name in killed:
        spec, pid, proc = targets[name]
        while alive(spec, pid, proc) and time.monotonic() < gone_by:
            time.sleep(0.02)
        remove_pid(layout, spec)
    return killed


def kill(layout: Layout, spec: ProcessSpec, signum: int = signal.SIGKILL) -> int | None:
    """Send `signum` to one process and wait until it is gone. Returns its pid or None."""
    pid = running_pid(layout, spec)
    if pid is None:
        return None
    signal_pid(pid, signum)
    deadline = time.monotonic() + 10
    while pid_alive(pid, spec.conf_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    remove_pid(layout, spec)
    return pid


def log_tail(layout: Layout, spec: ProcessSpec, lines: int = 12) -> list[str]:
    try:
        with open(layout.log_path(spec.name), encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
    except OSError:
        return []
