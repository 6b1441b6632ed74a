"""The pieces of `brume up`'s clean stop, with real signals and real processes: stop signals
become a flag (never an exception at a random point), and the one stop path kills what it
started even when its pid file is gone, at once when a second signal asks it to hurry."""
from __future__ import annotations

import os
import signal
import textwrap

import pytest

from cli.allinone import processes
from cli.allinone.layout import Layout, ProcessSpec
from cli.allinone.stop_signals import Interrupted, StopSignals
from tests.integration.support import wait_until

STUBBORN = textwrap.dedent('''
    """Stand-in server: ignores SIGTERM, says it is ready, sleeps."""
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    while True:
        time.sleep(1)
''')


def test_a_stop_signal_only_sets_the_flag_until_checked():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as signals:
        signals.check()  # nothing yet
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.requested and not signals.hurried  # and this line still ran
        with pytest.raises(Interrupted) as caught:
            signals.check()
        assert caught.value.exit_code == 128 + signal.SIGTERM
        assert str(caught.value) == "interrupted by SIGTERM"
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt while active
        assert signals.hurried
    assert signal.getsignal(signal.SIGTERM) is before


def test_sleep_ends_when_a_signal_comes():
    with StopSignals() as signals:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(),
                                                                    signal.SIGHUP))
        try:
            assert signals.sleep(120) is True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert signals.received == [signal.SIGHUP]


def test_a_never_entered_instance_records_nothing():
    signals = StopSignals()
    signals.check()
    assert signals.sleep(0.01) is False and not signals.hurried


@pytest.fixture
def stubborn(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "stubborn_server.py").write_text(STUBBORN)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    layout = Layout(data_dir=str(tmp_path / "data"))
    conf = tmp_path / "data" / "etc" / "stubborn.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("[server]\n")
    spec = ProcessSpec(name="stubborn", kind="proxy", module="stubborn_server",
                       conf_path=str(conf), sample="proxy-server.conf")
    proc = processes.start(layout, spec)
    wait_until(lambda: "ready" in "\n".join(processes.log_tail(layout, spec)), timeout=30)
    yield layout, spec, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_stop_kills_its_child_even_without_a_pid_file_and_hurries(stubborn):
    layout, spec, proc = stubborn
    processes.remove_pid(layout, spec)  # e.g. removed by hand, or never written
    assert processes.running_pid(layout, spec) is None
    asked = []

    def hurry() -> bool:
        asked.append(True)
        return True

    killed = processes.stop(layout, [spec], timeout=300, children={spec.name: proc},
                            hurry=hurry)
    assert killed == ["stubborn"] and asked
    assert proc.returncode == -signal.SIGKILL  # reaped: no zombie left
    assert not os.path.exists(layout.pid_path(spec.name))
