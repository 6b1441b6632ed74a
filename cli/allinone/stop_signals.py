"""Turning SIGINT, SIGTERM and SIGHUP into a flag that `brume up` checks at every wait.

While a `StopSignals` is active its handler only records the signal. The code that starts
and supervises the cluster calls `check()` (raises `Interrupted`) or `sleep()` (returns
early once a signal came) between steps and inside every wait, so stopping always happens
in the normal flow of the program, never inside a signal handler, and no exception can land
between spawning a process and recording it. A second signal asks the stop to hurry
(`hurried`: SIGKILL at once instead of waiting for the TERM timeout).
"""
from __future__ import annotations

import signal
import time

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SLEEP_SLICE = 0.05


class Interrupted(Exception):
    """A stop signal arrived while `brume up` was still starting the cluster."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """Records stop signals while active (a context manager; main thread only).

    An instance that was never entered records nothing: `check()` and `sleep()` then behave
    as if no signal ever came, which is what callers outside `brume up` want.
    """

    def __init__(self):
        self.received: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _record(self, signum, _frame) -> None:
        self.received.append(signum)

    @property
    def requested(self) -> bool:
        return bool(self.received)

    @property
    def hurried(self) -> bool:
        """A second signal came: whoever is stopping should not wait any longer."""
        return len(self.received) >= 2

    def check(self) -> None:
        if self.received:
            raise Interrupted(self.received[0])

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when a stop was requested."""
        deadline = time.monotonic() + seconds
        while not self.received:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(SLEEP_SLICE, left))
        return True
