"""The thin, shared eventlet runner that serves every Brume WSGI application.

    python -m common.wsgi_server /path/to/server.conf

The config's `[server]` section names the application factory (`app = module:function`,
called with the config path and returning a WSGI app) and where to listen. The runner
answers `GET /healthcheck` itself (unless the app has `serves_healthcheck = True`, as the
proxy's pipeline, whose `healthcheck` filter answers it), prints one clear line and exits 2
on any config error (before listening), and stops cleanly on SIGTERM/SIGINT. Each
application's factory checks the secrets its config ends up with
(`common.config.refuse_dev_defaults`): off loopback, a development default, written or left
to the code's default, is such a config error.
Requests are read and answered by `common.wsgi_protocol` (request heads whose body length
is unclear are refused before the app sees them, `common.http_framing`), and an exception
escaping the app is a logged traceback and a plain 500 (`common.last_resort`).
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys

from common.config import (
    ConfigError,
    Option,
    load_section,
    parse_bool,
    parse_ip,
    parse_port,
    read_ini,
)
from common.last_resort import last_resort_middleware

SERVER_OPTIONS = [
    Option("app", str, help="application factory, module:function(conf_path) -> WSGI app"),
    Option("bind_ip", parse_ip, "127.0.0.1"),
    Option("bind_port", parse_port),
    Option("conf_dir", str, "", help="directory with brume.conf and the ring files"),
    Option("backlog", int, 4096),
    Option("max_clients", int, 1024),
    Option("client_timeout", float, 60.0),
    Option("access_log", parse_bool, False),
    Option("log_level", str, "INFO"),
]


def healthcheck_middleware(app):
    """Answer GET /healthcheck with 200 OK before the application sees it."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == "/healthcheck":
            body = b"OK"
            start_response(
                "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return app(environ, start_response)

    return wrapped


def load_factory(spec: str):
    module_name, _, func_name = spec.partition(":")
    if not module_name or not func_name:
        raise ConfigError(f"[server] app must be module:function, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"[server] cannot load app {spec!r}: {exc}") from None


def listen(ip: str, port: int, backlog: int) -> socket.socket:
    from common.green import eventlet

    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    # No SO_REUSEPORT (eventlet's default): a second server on a port in use must fail to
    # start, not quietly take half of its connections.
    return eventlet.listen((ip, port), family=family, backlog=backlog, reuse_addr=True,
                           reuse_port=False)


def build(conf_path: str):
    """Validate the config and build the app. Returns (server options, wrapped app)."""
    parser = read_ini(conf_path)
    server = load_section(parser, "server", SERVER_OPTIONS, conf_path, allow_unknown=False)
    app = load_factory(server["app"])(conf_path)
    return server, runner_layers(app)


def runner_layers(app):
    """`app` inside the layers the runner puts around every app: last resort, healthcheck
    (unless the app serves `/healthcheck` itself, as the proxy's pipeline does)."""
    if not getattr(app, "serves_healthcheck", False):
        app = healthcheck_middleware(app)
    return last_resort_middleware(app)


def serve(sock, app, server: dict) -> None:
    from common.green import eventlet
    from common.wsgi_protocol import RunnerProtocol

    log = logging.getLogger("brume.access")
    eventlet.wsgi.server(
        sock,
        app,
        protocol=RunnerProtocol,
        log=log if server["access_log"] else None,
        log_output=server["access_log"],
        max_size=server["max_clients"],
        socket_timeout=server["client_timeout"],
        keepalive=True,
        minimum_chunk_size=65536,
        debug=False,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m common.wsgi_server CONF_FILE", file=sys.stderr)
        return 2
    from common.green import eventlet

    eventlet.monkey_patch()
    from common import http_headers

    http_headers.install()  # request/response heads without the email package
    conf_path = argv[0]
    try:
        server, app = build(conf_path)
        sock = listen(server["bind_ip"], server["bind_port"], server["backlog"])
    except ConfigError as exc:
        print(f"brume: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"brume: {conf_path}: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, str(server["log_level"]).upper(), logging.INFO),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("brume").info(
        "serving %s on %s:%s", server["app"], server["bind_ip"], server["bind_port"]
    )
    try:
        serve(sock, app, server)
    except SystemExit:
        pass
    # Every acknowledged write is already fsynced; leave at once rather than wait for OS
    # threads of eventlet's pool (blocked disk calls) that would delay a clean stop.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
