"""One storage server process for the single-server benchmarks (no proxy, no replication).

`storage_server` writes a minimal cluster config and a server config over a temp devices dir
(one device, `sda`), runs `python -m common.wsgi_server CONF` on a free loopback port, yields
the port once `/healthcheck` answers 200, and stops the server at the end of the block.
Requests to it must be signed like every backend request: `signed(method, target, headers)`
returns the headers with the signature for the config's backend secret.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time

from common.backend_auth import BackendAuth
from storage import SERVER_APPS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND_SECRET = "bench-backend-secret"
BACKEND_AUTH = BackendAuth(BACKEND_SECRET)


def signed(method: str, target: str, headers: dict | None = None) -> dict:
    """`headers` signed for a request to `target` (path?query as sent on the request line)."""
    return BACKEND_AUTH.sign_target(method, target, headers or {})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def storage_server(workdir: str, kind: str, options: dict | None = None, timeout: float = 15.0):
    """The `kind` server ("object" or "container") running for the block; yields its port."""
    conf_dir = os.path.join(workdir, "conf")
    devices = os.path.join(workdir, "devices")
    os.makedirs(conf_dir)
    os.makedirs(os.path.join(devices, "sda"))
    with open(os.path.join(conf_dir, "brume.conf"), "w") as handle:
        handle.write("[cluster]\nhash_path_prefix = bench-p\nhash_path_suffix = bench-s\n"
                     f"backend_secret = {BACKEND_SECRET}\n")
    port = free_port()
    conf = os.path.join(workdir, f"{kind}-server.conf")
    extra = "".join(f"{key} = {value}\n" for key, value in (options or {}).items())
    with open(conf, "w") as handle:
        handle.write(
            f"[server]\napp = {SERVER_APPS[kind]}\nbind_port = {port}\n"
            f"conf_dir = {conf_dir}\n\n[{kind}-server]\ndevices = {devices}\n{extra}"
        )
    proc = subprocess.Popen([sys.executable, "-m", "common.wsgi_server", conf], cwd=REPO)
    try:
        _wait_healthy(port, timeout, f"{kind} server did not start")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_healthy(port: int, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthcheck")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(failure)
