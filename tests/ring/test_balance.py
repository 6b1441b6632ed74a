"""Balance figures: the builder and a loaded ring answer through `ring.balance` and agree."""
from ring.balance import UNWEIGHTED_BUT_HOLDING, device_balances, max_balance
from ring.hashing import PathHasher
from ring.ring import Ring
from tests.ring.ringtools import FIXED_NOW, small_builder


def test_builder_and_loaded_ring_show_the_same_balances(tmp_path):
    builder = small_builder()
    builder.add_dev(1, 1, "127.0.1.9", 6200, "heavy", 300)  # a skew the rebalance cannot hide
    builder.rebalance(now=FIXED_NOW)
    builder.write_ring(str(tmp_path / "object.ring.gz"))
    ring = Ring(str(tmp_path), "object", hasher=PathHasher(b"", b"balance-test"))
    assert ring.balances() == builder.balances()
    assert max_balance(ring.balances()) == builder.max_balance()
    assert sum(ring.assignments_per_device().values()) == builder.replicas * builder.parts


def test_device_balances_arithmetic():
    weights = {0: 100.0, 1: 100.0, 2: 0.0}
    assert device_balances(weights, {0: 60, 1: 40}, 100) == {0: 20.0, 1: -20.0, 2: 0.0}
    drained = device_balances(weights, {0: 45, 1: 45, 2: 10}, 100)
    assert drained[2] == UNWEIGHTED_BUT_HOLDING and max_balance(drained) == UNWEIGHTED_BUT_HOLDING
    assert device_balances({0: 0.0}, {}, 0) == {0: 0.0}
    assert max_balance({}) == 0.0
