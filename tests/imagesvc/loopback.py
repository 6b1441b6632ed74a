"""Serve a WSGI app on a free loopback port in a thread of its own (eventlet's WSGI server),
for tests that need a real HTTP endpoint in-process (CLI, glanceclient, the fault proxy)."""
from __future__ import annotations

import threading

from common.green import eventlet


def serve_app(app) -> tuple[str, callable]:
    """Serve `app` on 127.0.0.1; returns (base URL, stop)."""
    ready = threading.Event()
    holder = {}

    def run():
        sock = eventlet.listen(("127.0.0.1", 0))
        holder["sock"] = sock
        holder["url"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready.set()
        try:
            eventlet.wsgi.server(sock, app, log_output=False, debug=False)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("loopback server did not start")

    def stop():
        holder["sock"].close()

    return holder["url"], stop
