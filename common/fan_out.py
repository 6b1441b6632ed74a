"""One call per item, all at once: the fan-out of one request to a few replicas.

`at_once(func, items)` is `[func(item) for item in items]` with the calls overlapping: the
first runs in the calling green thread and each other one in a green thread of its own. It
returns when every call has finished, the results in the items' order; when calls raised,
it raises the first of their exceptions in that order, after all have finished. This is
what `list(GreenPool(len(items)).imap(func, items))` did, for about a third of the CPU:
33 against 104 µs for three calls that each yield once, on this project's machines. Every
PUT and DELETE through the proxy fans out this way, and every PUT an object server sends
to more than one container replica.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from common.green import eventlet

Item = TypeVar("Item")
Result = TypeVar("Result")


def at_once(func: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """`func` over `items`, the calls overlapping; results in order (see the module doc)."""
    items = list(items)
    if not items:
        return []
    others = [eventlet.spawn(func, item) for item in items[1:]]
    outcomes = []
    try:
        outcomes.append((True, func(items[0])))
    except Exception as exc:
        outcomes.append((False, exc))
    for thread in others:
        try:
            outcomes.append((True, thread.wait()))
        except Exception as exc:
            outcomes.append((False, exc))
    for returned, value in outcomes:
        if not returned:
            raise value
    return [value for _returned, value in outcomes]
