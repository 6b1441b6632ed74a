"""How far each device's share of a ring's partition replicas is from its weight's share.

Swift's balance: for each device, the percent by which the replicas it holds are above (+)
or below (-) what its weight asks for; a ring's balance is the largest of these in absolute
value. A device without weight that still holds replicas (being drained) shows 999.99, as
`ring-builder` prints it. Logic only: the builder (its editable state) and a loaded ring
(`Ring.balances`, what the proxy's cluster health shows) both answer through it.
"""
from __future__ import annotations

UNWEIGHTED_BUT_HOLDING = 999.99


def device_balances(weights: dict[int, float], assigned: dict[int, int],
                    total: float) -> dict[int, float]:
    """{device id: balance in percent} for devices of `weights`, holding `assigned` replicas
    out of `total` in the ring."""
    total_weight = sum(weight for weight in weights.values() if weight > 0)
    result = {}
    for dev_id, weight in weights.items():
        holds = assigned.get(dev_id, 0)
        if weight <= 0 or total_weight <= 0 or total <= 0:
            result[dev_id] = UNWEIGHTED_BUT_HOLDING if holds else 0.0
        else:
            wanted = weight / total_weight * total
            result[dev_id] = round(100.0 * (holds / wanted - 1.0), 4)
    return result


def max_balance(balances: dict[int, float]) -> float:
    """The ring's balance: the largest device balance in absolute value (0 without devices)."""
    return max((abs(value) for value in balances.values()), default=0.0)
