"""`common.fan_out.at_once`: the calls overlap, results come in order, errors after all."""
from __future__ import annotations

import pytest

from common.fan_out import at_once
from common.green import eventlet


def test_results_in_the_order_of_the_items():
    def slow_for_small(number):
        eventlet.sleep(0.001 * (5 - number))
        return number * 10

    assert at_once(slow_for_small, range(5)) == [0, 10, 20, 30, 40]


def test_no_items_no_calls():
    assert at_once(lambda item: 1 / 0, []) == []


def test_calls_overlap():
    """Each call waits until every call has started: run one after the other, they would
    wait for ever (the timeout turns that into a failure)."""
    started = []
    all_started = eventlet.event.Event()

    def call(item):
        started.append(item)
        if len(started) == 3:
            all_started.send(True)
        all_started.wait()
        return item

    with eventlet.Timeout(5):
        assert at_once(call, "abc") == ["a", "b", "c"]


def test_the_first_error_in_order_is_raised_once_every_call_has_finished():
    finished = []

    def call(item):
        eventlet.sleep(0.001 * item)
        finished.append(item)
        if item in (1, 2):
            raise ValueError(f"item {item}")
        return item

    with pytest.raises(ValueError, match="item 2"):  # 2 comes before 1 in the items
        at_once(call, [3, 2, 1, 0])
    assert sorted(finished) == [0, 1, 2, 3]


def test_an_error_in_the_first_call_waits_for_the_others_too():
    finished = []

    def call(item):
        if item == 0:
            raise KeyError(item)
        eventlet.sleep(0.001)
        finished.append(item)
        return item

    with pytest.raises(KeyError):
        at_once(call, range(3))
    assert finished == [1, 2]
