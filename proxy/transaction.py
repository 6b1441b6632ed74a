"""Transaction ids: one `tx<hex>-<time hex>` per client request, seen on every tier.

The proxy gives each request a fresh id (`X-Trans-Id`, also `X-Openstack-Request-Id`, in the
response) and every backend request made on its behalf carries it as `X-Trans-Id`, so one
request can be followed through the storage nodes' logs. The id lives in a context variable
of the green thread serving the request; work fanned out to other green threads runs
through `carry`, which hands them a copy of that context.
"""
from __future__ import annotations

import contextvars
import random
import time

TRANS_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "brume_trans_id", default=None
)


def new_trans_id() -> str:
    # An id, not a secret: the process's seeded generator spares a syscall per request.
    return f"tx{random.getrandbits(84):021x}-{int(time.time()):010x}"


def carry(func):
    """`func` wrapped to run in a copy of the caller's context (for green thread fan-out)."""
    context = contextvars.copy_context()

    def run(*args, **kwargs):
        return context.copy().run(func, *args, **kwargs)

    return run
