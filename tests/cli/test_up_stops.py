"""`brume up` stopped by SIGTERM or SIGINT at any moment leaves no process of its cluster.

Each test starts a cluster of its own (fresh temp data dir, random loopback prefix, free
ports), waits for one moment of the start (just launched, data dir prepared, first server
spawned, proxy answering, storage daemons and agents starting, fully up), sends the signal
and then scans /proc for any process whose command line names a file of the data dir.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from cli.allinone.health import healthcheck
from cli.allinone.layout import load_layout
from tests.cli.test_cluster_cli import up_args
from tests.integration.support import REPO_ROOT, brume, wait_until

pytestmark = pytest.mark.cluster

SECOND_WAVE_PREFIXES = ("daemons-", "agent-")


def cluster_processes(data_dir: str) -> list[str]:
    """Command lines of live processes naming a file under data_dir (its servers' configs)."""
    inside = os.fsencode(data_dir.rstrip("/") + "/")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(inside) for arg in argv):
            found.append(f"{entry}: {b' '.join(argv).decode(errors='replace')}")
    return found


def pid_files(data_dir: str) -> list[str]:
    run_dir = os.path.join(data_dir, "run")
    if not os.path.isdir(run_dir):
        return []
    return sorted(name for name in os.listdir(run_dir) if name.endswith(".pid"))


def proxy_answers(data_dir: str) -> bool:
    layout = load_layout(data_dir) if os.path.exists(
        os.path.join(data_dir, "etc", "cluster.json")) else None
    return layout is not None and healthcheck(layout.service_ip, layout.proxy_port, 0.2)


def output_says(path: str, text: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return text in handle.read()


MOMENTS = {
    "launched": lambda data_dir, out: True,
    "prepared": lambda data_dir, out: os.path.exists(
        os.path.join(data_dir, "etc", "cluster.json")),
    "first-spawn": lambda data_dir, out: bool(pid_files(data_dir)),
    "proxy-answers": lambda data_dir, out: proxy_answers(data_dir),
    "second-wave": lambda data_dir, out: any(
        name.startswith(SECOND_WAVE_PREFIXES) for name in pid_files(data_dir)),
    "up": lambda data_dir, out: output_says(out, "running in the foreground"),
}


@pytest.fixture
def data_dir(tmp_path):
    path = str(tmp_path / "cluster")
    yield path
    if os.path.exists(os.path.join(path, "etc", "cluster.json")):
        brume("down", "--data-dir", path, "--timeout", "5", check=False)


def interrupt_up(data_dir: str, out_path: str, moment: str, signum: int,
                 detach: bool = False) -> tuple[int, str]:
    """Run `brume up`, send `signum` once `moment` is reached; (exit code, output)."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    args = ["up", *up_args(data_dir)] + (["--detach"] if detach else [])
    with open(out_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    try:
        reached = MOMENTS[moment]
        wait_until(lambda: reached(data_dir, out_path) or proc.poll() is not None,
                   timeout=90, interval=0.01, message=f"brume up never reached {moment}")
        assert proc.poll() is None, f"brume up ended before {moment}"
        proc.send_signal(signum)
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open(out_path, encoding="utf-8", errors="replace") as handle:
        return proc.returncode, handle.read()


def assert_nothing_left(data_dir: str, output: str) -> None:
    assert cluster_processes(data_dir) == [], output
    assert pid_files(data_dir) == [], output


@pytest.mark.parametrize("moment,signum", [
    ("launched", signal.SIGTERM),
    ("prepared", signal.SIGTERM),
    ("first-spawn", signal.SIGTERM),
    ("first-spawn", signal.SIGINT),
    ("proxy-answers", signal.SIGTERM),
    ("proxy-answers", signal.SIGINT),
    ("second-wave", signal.SIGTERM),
    ("second-wave", signal.SIGINT),
])
def test_foreground_up_interrupted_while_starting_stops_everything(
        data_dir, tmp_path, moment, signum):
    code, output = interrupt_up(data_dir, str(tmp_path / "up.out"), moment, signum)
    assert_nothing_left(data_dir, output)
    if moment == "launched":  # perhaps before Python even ran our code: default action
        assert code in (-signum, 128 + signum), output
        return
    assert code == 128 + signum, output
    name = signal.Signals(signum).name
    assert f"brume: interrupted by {name} before the cluster was up" in output
    assert "cluster up in" not in output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_foreground_up_stopped_once_up_stops_everything(data_dir, tmp_path, signum):
    code, output = interrupt_up(data_dir, str(tmp_path / "up.out"), "up", signum)
    assert code == 0, output
    assert "stopping the cluster ..." in output and "cluster stopped" in output
    assert_nothing_left(data_dir, output)


@pytest.mark.parametrize("moment,signum", [
    ("first-spawn", signal.SIGINT),
    ("proxy-answers", signal.SIGTERM),
    ("second-wave", signal.SIGTERM),
])
def test_detached_up_interrupted_while_starting_leaves_no_orphans(
        data_dir, tmp_path, moment, signum):
    code, output = interrupt_up(data_dir, str(tmp_path / "up.out"), moment, signum,
                                detach=True)
    assert code == 128 + signum, output
    assert "detached; stop it with" not in output
    assert_nothing_left(data_dir, output)


def test_up_after_an_interrupted_start_comes_up(data_dir, tmp_path):
    """Nothing half-started blocks the next `brume up` of the same data dir."""
    interrupt_up(data_dir, str(tmp_path / "up.out"), "proxy-answers", signal.SIGTERM)
    result = brume("up", "--detach", "--test-driver", "--data-dir", data_dir)
    assert "cluster up in" in result.stdout


def test_down_finds_processes_whose_pid_file_is_gone(data_dir):
    """As a `brume up` killed with SIGKILL between a spawn and its record would leave them."""
    brume("up", "--detach", *up_args(data_dir))

    def lose_pid_files():
        for name in ("proxy", "daemons-3"):
            os.unlink(os.path.join(data_dir, "run", f"{name}.pid"))

    lose_pid_files()
    again = brume("up", "--detach", "--test-driver", "--data-dir", data_dir, check=False)
    assert again.returncode == 1 and "a cluster is already running" in again.stderr
    assert "daemons-3" in again.stderr and "proxy" in again.stderr
    lose_pid_files()
    down = brume("down", "--data-dir", data_dir)
    assert "found without a pid file: daemons-3, proxy" in down.stdout
    assert_nothing_left(data_dir, down.stdout)
