"""The loopback TCP port a new guest's serial console listens on (QEMU binds it; the agent's
console stream connects to it, `compute.agent_server`).

`pick()` takes a random port of `PORTS` that nothing on 127.0.0.1 holds right now. Ports stay
in the domain's definition across reboots; two guests built at the same moment could draw
the same port (1 in 10 000), and the second would fail to start (a build error, retried on
another host).
"""
from __future__ import annotations

import random
import socket

PORTS = range(10000, 20000)  # below the test clusters' and the kernel's ephemeral ports


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick(rng=random, free=_free, tries: int = 64) -> int:
    for _ in range(tries):
        port = rng.choice(PORTS)
        if free(port):
            return port
    raise OSError(f"no free console port in {PORTS.start}-{PORTS.stop - 1}")
