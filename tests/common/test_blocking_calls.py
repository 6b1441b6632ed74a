"""`common.blocking_calls`: calls run in OS threads, the hub keeps serving green threads."""
from __future__ import annotations

import pytest

from common.blocking_calls import BlockingCallPool
from common.green import eventlet

os_threading = eventlet.patcher.original("threading")


def test_returns_the_result_from_another_os_thread():
    pool = BlockingCallPool(2)
    ran_in = pool.run(os_threading.get_ident)
    assert ran_in != os_threading.get_ident()
    assert pool.run(divmod, 17, 5) == (3, 2)


def test_raises_what_the_call_raised():
    pool = BlockingCallPool(1)
    with pytest.raises(FileNotFoundError):
        pool.run(open, "/nonexistent/brume/blocking-calls")
    assert pool.run(len, "still serving") == 13


def test_other_green_threads_run_while_a_call_blocks():
    """The blocked call waits on an OS-level event that only a green thread sets: with the
    hub stalled, it would time out."""
    pool = BlockingCallPool(1)
    released = os_threading.Event()

    def release_later():
        eventlet.sleep(0)
        released.set()

    helper = eventlet.spawn(release_later)
    assert pool.run(released.wait, 10) is True
    helper.wait()


def test_calls_overlap_up_to_the_thread_count():
    """Two calls that each wait for the other can only finish if both run at once."""
    pool = BlockingCallPool(2)
    barrier = os_threading.Barrier(2, timeout=10)
    first = eventlet.spawn(pool.run, barrier.wait)
    second = eventlet.spawn(pool.run, barrier.wait)
    assert sorted([first.wait(), second.wait()]) == [0, 1]


def test_many_calls_from_many_green_threads_all_get_their_own_answer():
    pool = BlockingCallPool(3)
    threads = [eventlet.spawn(pool.run, pow, number, 2) for number in range(200)]
    assert [thread.wait() for thread in threads] == [number * number for number in range(200)]


def test_a_call_from_another_os_thread_runs_inline():
    pool = BlockingCallPool(1)
    seen = []
    worker = os_threading.Thread(target=lambda: seen.append(pool.run(os_threading.get_ident)))
    worker.start()
    worker.join(10)
    assert seen == [worker.ident]


def test_a_pool_needs_a_thread():
    with pytest.raises(ValueError):
        BlockingCallPool(0)


def test_submitted_calls_run_while_the_caller_goes_on():
    """Both calls wait for each other, and the caller only asks for their results after
    starting both: they can only finish if submit() parked no one."""
    pool = BlockingCallPool(2)
    barrier = os_threading.Barrier(2, timeout=10)
    first = pool.submit(barrier.wait)
    second = pool.submit(barrier.wait)
    assert sorted([first.result(), second.result()]) == [0, 1]
    assert first.result() in (0, 1)  # asked again: the same outcome


def test_a_submitted_call_raises_at_its_result():
    pool = BlockingCallPool(1)
    pending = pool.submit(open, "/nonexistent/brume/blocking-calls")
    with pytest.raises(FileNotFoundError):
        pending.result()


def test_a_call_submitted_from_another_os_thread_is_done_at_once():
    pool = BlockingCallPool(1)
    seen = []
    worker = os_threading.Thread(
        target=lambda: seen.append(pool.submit(os_threading.get_ident).result()))
    worker.start()
    worker.join(10)
    assert seen == [worker.ident]


def test_background_calls_return_at_once_and_finish_later():
    from common.blocking_calls import BackgroundCalls

    background = BackgroundCalls(BlockingCallPool(1))
    gate, ran = os_threading.Event(), []
    background.start(lambda: ran.append(gate.wait(10)))
    assert ran == []  # the caller went on while the call waits on its gate
    gate.set()
    background.wait_all()
    assert ran == [True]


def test_background_calls_past_the_limit_wait_for_the_oldest():
    from common.blocking_calls import BackgroundCalls

    background = BackgroundCalls(BlockingCallPool(1), limit=1)
    gate, order = os_threading.Event(), []
    background.start(lambda: order.append(("first", gate.wait(10))))

    def open_gate_soon():
        eventlet.sleep(0.05)
        order.append("gate")
        gate.set()

    helper = eventlet.spawn(open_gate_soon)
    background.start(order.append, "second")  # parks until the first is done
    order.append("started second")
    background.wait_all()
    helper.wait()
    # the second call started only once the first had finished (then both ran on)
    assert order[:2] == ["gate", ("first", True)]
    assert sorted(map(str, order[2:])) == ["second", "started second"]


def test_a_background_call_that_raises_is_logged_and_the_next_still_runs(caplog):
    from common.blocking_calls import BackgroundCalls

    background = BackgroundCalls(BlockingCallPool(1))
    background.start(open, "/nonexistent/brume/background")
    ran = []
    background.start(ran.append, 1)
    background.wait_all()
    assert ran == [1]
    assert "background call open failed" in caplog.text
