"""The runner's request framing and last-resort error layer, on a real runner process.

Every request head whose body length is unclear is refused with a one-line 400/501 and
`Connection: close`, before the app sees it, and the bytes after the head are never parsed
as a second request. An exception escaping an app is a logged traceback and a plain 500.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import http_headers
from common.http_framing import framing_problem, normalized_request_line
from tests.integration.httpraw import send_and_watch_close, status_lines
from tests.integration.support import free_port, wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def head_of(raw: bytes):
    return http_headers.parse_headers(io.BytesIO(raw))


BAD_HEADS = {
    "gzip, chunked": (b"Transfer-Encoding: gzip, chunked\r\n", 501),
    "two Transfer-Encoding lines": (
        b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501),
    "chunked twice": (b"Transfer-Encoding: chunked, chunked\r\n", 501),
    "chunked not final": (b"Transfer-Encoding: chunked, gzip\r\n", 400),
    "identity": (b"Transfer-Encoding: identity\r\n", 400),
    "empty Transfer-Encoding": (b"Transfer-Encoding: \r\n", 400),
    "Transfer-Encoding with Content-Length": (
        b"Transfer-Encoding: chunked\r\nContent-Length: 36\r\n", 400),
    "space before colon": (b"Transfer-Encoding : chunked\r\n", 400),
    "folded value": (b"Transfer-Encoding: chunked\r\n , identity\r\n", 400),
    "line without colon": (b"Transfer-Encoding chunked\r\n", 400),
    "two Content-Length": (b"Content-Length: 0\r\nContent-Length: 36\r\n", 400),
    "signed Content-Length": (b"Content-Length: +0\r\n", 400),
    "negative Content-Length": (b"Content-Length: -1\r\n", 400),
    # int() refuses strings of over 4300 digits: such a length would reach apps as a 500
    "Content-Length of 5000 digits": (b"Content-Length: " + b"9" * 5000 + b"\r\n", 400),
    "Content-Length of 19 digits": (b"Content-Length: " + b"1" * 19 + b"\r\n", 400),
}


@pytest.mark.parametrize("name", sorted(BAD_HEADS))
def test_framing_problem_names_each_bad_head(name):
    lines, status = BAD_HEADS[name]
    problem = framing_problem(head_of(b"Host: x\r\n" + lines + b"\r\n"))
    assert problem is not None and problem[0] == status
    assert "\n" not in problem[1]


@pytest.mark.parametrize("lines", [
    b"",
    b"Content-Length: 12\r\n",
    b"Content-Length:  7 \r\n",
    b"Content-Length: 000000000999999999999999999\r\n",  # 18 significant digits
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: Chunked\r\n",
    b"X-Object-Meta-Colour: blue; green\r\n",
])
def test_framing_problem_accepts_clear_heads(lines):
    assert framing_problem(head_of(b"Host: x\r\n" + lines + b"\r\n")) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["chunked", "gzip", "identity", "deflate", "", " ", "Chunked"]),
                min_size=1, max_size=4))
def test_only_a_lone_chunked_coding_is_accepted(codings):
    problem = framing_problem(head_of(
        b"Host: x\r\nTransfer-Encoding: " + ",".join(codings).encode() + b"\r\n\r\n"))
    lone_chunked = [c.strip().lower() for c in codings if c.strip()] == ["chunked"]
    assert (problem is None) == lone_chunked


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """Two runner processes on loopback: the echo app and an app that always raises."""
    root = tmp_path_factory.mktemp("framing")
    procs, urls, logs = [], {}, {}
    for name, factory in (("echo", "make_echo"), ("broken", "make_broken")):
        port = free_port()
        conf = root / f"{name}.conf"
        conf.write_text(f"[server]\napp = tests.shared.runner_apps:{factory}\n"
                        f"bind_port = {port}\n")
        logs[name] = root / f"{name}.log"
        with open(logs[name], "wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "common.wsgi_server",
                                           str(conf)], cwd=REPO, stdout=log,
                                          stderr=subprocess.STDOUT))
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        for name, url in urls.items():
            wait_until(lambda url=url: _answers(url), timeout=60, what=f"{name} runner up")
        yield urls, logs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        answer, _ = send_and_watch_close(url, b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n"
                                         b"Connection: close\r\n\r\n", timeout=5)
    except OSError:
        return False
    return status_lines(answer) == [200]


@pytest.mark.parametrize("name", sorted(BAD_HEADS))
def test_runner_refuses_and_closes_without_parsing_the_body(runner, name):
    urls, _ = runner
    lines, status = BAD_HEADS[name]
    answer, closed = send_and_watch_close(
        urls["echo"], b"PUT /target HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n" + SMUGGLED)
    assert closed, "the connection stayed open after a refused head"
    assert status_lines(answer) == [status]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head
    assert body.count(b"\n") == 1 and body.endswith(b"\n")
    assert b"/target" not in answer and b"smuggled" not in answer


def test_runner_still_serves_clear_chunked_and_keeps_alive(runner):
    urls, _ = runner
    answer, closed = send_and_watch_close(
        urls["echo"],
        b"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
        b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert closed
    assert status_lines(answer) == [200, 200]
    assert b"PUT /a 5\n" in answer and b"PUT /b 3\n" in answer


@pytest.mark.parametrize("codings", [b"chunked,", b"Chunked", b" chunked ,, "])
def test_a_chunked_body_is_read_as_chunked_however_its_coding_is_spelled(runner, codings):
    """A `Transfer-Encoding` that the framing check lets through means a chunked body:
    the body is read (and never parsed as a second request), however the header is spelled."""
    urls, _ = runner
    answer, closed = send_and_watch_close(
        urls["echo"],
        b"PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + codings + b"\r\n\r\n"
        b"24\r\n" + SMUGGLED + b"\r\n0\r\n\r\n"
        b"PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert closed
    assert status_lines(answer) == [200, 200]
    assert b"PUT /a 36\n" in answer and b"PUT /b 3\n" in answer
    assert b"smuggled" not in answer


def test_answers_on_a_kept_alive_connection_are_framed_as_eventlet_framed_them(runner):
    """Capitalized header names, a Date, chunked when the app gives no length, no body for
    HEAD, and the connection closed after an HTTP/1.0 request without keep-alive."""
    urls, _ = runner
    answer, closed = send_and_watch_close(
        urls["echo"],
        b"GET /stream/one HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /stream/two HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /three HTTP/1.0\r\nHost: x\r\n\r\n")
    assert closed
    assert status_lines(answer) == [200, 200, 200]
    first, second, third = answer.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert b"\r\nContent-Type: text/plain\r\nX-Echo-Path: yes\r\n" in b"\r\n" + first
    assert b"Transfer-Encoding: chunked\r\n" in first
    # the runner gathers small parts into one chunk (its minimum_chunk_size)
    assert first.endswith(b"\r\n\r\n1b\r\nGET /stream/one 0\nand more\n\r\n0\r\n\r\n")
    # HEAD: a head and nothing after it, although the app returned a body
    assert second.endswith(b"\r\n\r\n") and b"HEAD /stream/two" not in answer
    assert all(b"Date: " in head for head in (first, second, third))
    assert b"Connection: close" in third and b"Connection: close" not in first + second
    assert third.endswith(b"\r\n\r\nGET /three 0\n")


def test_bad_request_line_gets_a_one_line_answer(runner):
    urls, _ = runner
    answer, closed = send_and_watch_close(urls["echo"], b"PUT /a HTTP/x\r\nHost: x\r\n\r\n")
    assert closed and status_lines(answer) == [400]
    body = answer.partition(b"\r\n\r\n")[2]
    assert body.count(b"\n") == 1 and b"<" not in body


def test_unhandled_exception_is_a_plain_500_and_a_logged_traceback(runner):
    urls, logs = runner
    answer, _ = send_and_watch_close(
        urls["broken"], b"GET /x%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_lines(answer) == [500]
    assert answer.endswith(b"\r\n\r\ninternal server error\n")
    assert b"Traceback" not in answer and b"RuntimeError" not in answer
    wait_until(lambda: b"a bug the app did not handle" in logs["broken"].read_bytes(),
               what="the traceback in the server log")
    assert b"Traceback (most recent call last)" in logs["broken"].read_bytes()


@pytest.mark.parametrize(
    "line,expected",
    [(b"GET /a HTTP/1.1\r\n", b"GET /a HTTP/1.1\r\n"),
     (b"GET /info asdf HTTP/1.1\r\n", b"GET /info%20asdf HTTP/1.1\r\n"),
     ("PUT /v1/a/c/\u5605 HTTP/1.1\r\n".encode(), b"PUT /v1/a/c/\xe5\x98%85 HTTP/1.1\r\n"),
     (b"GET /a\xa0b HTTP/1.0\r\n", b"GET /a%A0b HTTP/1.0\r\n"),
     (b"GARBAGE\r\n", b"GARBAGE\r\n"),
     (b"GET /a b\r\n", b"GET /a b\r\n")],
)
def test_request_line_targets_are_made_parseable(line, expected):
    assert normalized_request_line(line) == expected


@pytest.mark.parametrize(
    "target,path",
    [(b"/v1/a/c/\xe5\x98\x85", "/v1/a/c/\xe5\x98\x85"),  # raw UTF-8, NEL byte inside
     (b"/info asdf", "/info asdf"),
     (b"//v1/AUTH_a", "//v1/AUTH_a")],  # not folded to /v1/AUTH_a
)
def test_runner_hands_raw_targets_to_the_app_unchanged(runner, target, path):
    urls, _ = runner
    answer, _closed = send_and_watch_close(
        urls["echo"], b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_lines(answer) == [200]
    assert f"GET {path} 0\n".encode() in answer  # the echo app answers in UTF-8
