"""Quorum decisions and bodiless fan-out requests (DELETE, POST, container/account PUT).

`choose_status` turns the replicas' answers into the one the client sees: a status class
(2xx, 4xx) answered by a majority wins, anything else is 503. `fan_out` sends one bodiless
request to `replicas` nodes at once (green threads), replacing a node that cannot be reached
or answers 5xx with the next handoff, and returns every final answer.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from common.backend_http import BackendError
from common.fan_out import at_once
from proxy.transaction import carry


def quorum_size(replicas: int) -> int:
    return replicas // 2 + 1


def choose_status(statuses: list[int], quorum: int) -> int:
    """The status a majority agrees on (by class), else 503."""
    for low in (200, 400, 300):
        in_class = [s for s in statuses if low <= s < low + 100]
        if len(in_class) >= quorum:
            return Counter(in_class).most_common(1)[0][0]
    return 503


@dataclass
class Answer:
    status: int
    headers: dict = field(default_factory=dict)
    node: dict | None = None


def fan_out(
    client,
    node_iter,
    replicas: int,
    part,
    method: str,
    path: str,
    headers_for_slot,
) -> list[Answer]:
    """Send `method path` to `replicas` nodes in parallel; one Answer per slot.

    `headers_for_slot(slot)` builds each slot's headers (slots 0..replicas-1), so slot i can
    carry the i-th container/account node to update. A slot whose node cannot be reached or
    answers 5xx moves on to the next node from the shared `node_iter`.
    """

    def run(slot: int) -> Answer:
        last = Answer(503)
        while True:
            node = next(node_iter, None)
            if node is None:
                return last
            try:
                response = client.request(node, part, method, path, headers_for_slot(slot))
            except BackendError:
                continue
            answer = Answer(response.status, response.headers, node)
            response.drain_and_release()
            if response.status >= 500:
                last = answer
                continue
            return answer

    return at_once(carry(run), range(replicas))
