"""Tiny WSGI apps the framing tests run under the real service runner (`common.wsgi_server`).

Kept apart from the test modules: the runner imports this module after eventlet's monkey
patching, and a test module's own imports (hypothesis pulls in trio when it is installed)
may not survive a patched socket module.
"""
from __future__ import annotations


def echo_app(environ, start_response):
    """Answers `METHOD PATH <body length>`: a request reaching it shows in the answer."""
    body = environ["wsgi.input"].read()
    out = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {len(body)}\n".encode()
    if environ["PATH_INFO"].startswith("/stream"):
        # no length given, names in lower case: the runner capitalizes them and chunks
        start_response("200 OK", [("content-type", "text/plain"), ("x-echo-path", "yes")])
        return iter([out, b"and more\n"])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


def make_echo(conf_path):
    return echo_app


def make_broken(conf_path):
    def broken_app(environ, start_response):
        raise RuntimeError("a bug the app did not handle")

    return broken_app
