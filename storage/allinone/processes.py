"""Starting, finding and stopping the all-in-one cluster's processes through pid files.

Each process runs `python -m <module> <conf>` in its own session (so a detached cluster
outlives the `brume up` that started it and a terminal's Ctrl-C reaches only the
supervisor), writes its output to `DIR/logs/<name>.log`, and is recorded in
`DIR/run/<name>.pid`. A pid file only counts while the pid is alive and its command line
still names the process's config, so a stale file or a recycled pid is never signalled.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque

from storage.allinone.layout import REPO_ROOT, Layout, ProcessSpec


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
    write_pid(layout.pid_path(spec.name), proc.pid)
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
) -> list[str]:
    """SIGTERM every running process of `specs`, SIGKILL those still up after `timeout`.

    Returns the names that needed SIGKILL. Pid files are removed. `children` (our own
    Popen objects, when we started them) are reaped so they leave no zombies.
    """
    children = children or {}
    pids: dict[str, tuple[ProcessSpec, int]] = {}
    for spec in specs:
        pid = running_pid(layout, spec)
        if pid is not None:
            pids[spec.name] = (spec, pid)
            signal_pid(pid, signal.SIGTERM)
        else:
            remove_pid(layout, spec)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        for name, (spec, pid) in list(pids.items()):
            proc = children.get(name)
            if proc is not None:
                proc.poll()
            if not pid_alive(pid, spec.conf_path):
                remove_pid(layout, spec)
                del pids[name]
        if pids:
            time.sleep(0.05)
    killed = []
    for name, (spec, pid) in pids.items():
        signal_pid(pid, signal.SIGKILL)
        killed.append(name)
        proc = children.get(name)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
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
