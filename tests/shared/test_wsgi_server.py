"""The shared runner: a real process on loopback, healthcheck, one-line config errors."""
import os
import subprocess
import sys
import urllib.request

import pytest

from common.wsgi_server import healthcheck_middleware
from tests.integration.support import free_port, wait_until

HERE = os.path.dirname(__file__)


def hello_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def make_hello(conf_path):
    return hello_app


def run(conf_text, tmp_path):
    conf = tmp_path / "s.conf"
    conf.write_text(conf_text)
    return subprocess.run(
        [sys.executable, "-m", "common.wsgi_server", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=os.path.dirname(os.path.dirname(HERE)),
    )


def test_healthcheck_middleware():
    from webob import Request

    app = healthcheck_middleware(hello_app)
    assert Request.blank("/healthcheck").get_response(app).body == b"OK"
    assert Request.blank("/other").get_response(app).body == b"hello"


def hello_conf(port: int) -> str:
    return f"[server]\napp = tests.shared.test_wsgi_server:make_hello\nbind_port = {port}\n"


def start_hello(tmp_path, port: int, name: str = "s") -> subprocess.Popen:
    """The hello app served on `port` by the runner, once it answers its healthcheck."""
    conf = tmp_path / f"{name}.conf"
    conf.write_text(hello_conf(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "common.wsgi_server", str(conf)],
        cwd=os.path.dirname(os.path.dirname(HERE)),
        stderr=subprocess.PIPE,
    )

    def answering() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck") as resp:
                return resp.read() == b"OK"
        except OSError:
            return False

    try:
        wait_until(answering, timeout=20, message="server did not come up")
    except AssertionError:
        proc.kill()
        raise
    return proc


def test_serves_and_stops_on_sigterm(tmp_path):
    port = free_port()
    proc = start_hello(tmp_path, port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/x") as resp:
            assert resp.read() == b"hello"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize(
    "conf, fragment",
    [
        ("[server]\napp = nosuch.module:x\nbind_port = 1\n", "cannot load app"),
        ("[server]\napp = x\nbind_port = 1\n", "module:function"),
        ("[server]\napp = a:b\n", "missing required option 'bind_port'"),
        ("[server]\napp = a:b\nbind_port = 1\ntypo = 3\n", "unknown option 'typo'"),
    ],
)
def test_config_errors_are_one_line_no_traceback(tmp_path, conf, fragment):
    result = run(conf, tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_second_server_on_a_port_in_use_refuses_to_start(tmp_path):
    """No SO_REUSEPORT: the second server exits with one line instead of quietly taking
    half of the first one's connections (how two test servers once shared a port)."""
    port = free_port()
    first = start_hello(tmp_path, port, "first")
    try:
        second = run(hello_conf(port), tmp_path)
        assert second.returncode == 2
        assert "cannot listen" in second.stderr and "Traceback" not in second.stderr
        assert first.poll() is None
    finally:
        first.terminate()
        assert first.wait(timeout=10) == 0
