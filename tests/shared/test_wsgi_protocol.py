"""The runner protocol's pure parts: one pass over a head's lines decides as `framing_problem`
does, and fills the environ as eventlet's server filled it (the socket side is exercised
through a real runner in test_http_framing.py)."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import http_headers
from common.http_framing import framing_problem
from common.wsgi_protocol import HeadProblem, environ_key, head_environ, wire_name

NAMES = st.sampled_from([
    "Content-Length", "content-length", "Transfer-Encoding", "transfer-encoding",
    "Content-Type", "Connection", "Expect", "X-Auth-Token", "X_Auth_Token", "Host",
    "X-Object-Meta-Color", "Bad Name", "Bad:", "",
])
VALUES = st.sampled_from([
    "0", "12", " 7 ", "+1", "-1", "1x", "", "chunked", "Chunked", "chunked,", "gzip, chunked",
    "chunked, gzip", "identity", "close", "keep-alive", "text/plain", "a\rb", "v",
])


def _message(pairs):
    raw = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in pairs)
    return http_headers.parse_headers(io.BytesIO(raw + b"\r\n"))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(NAMES, VALUES), max_size=6))
def test_one_pass_refuses_exactly_what_framing_problem_refuses(pairs):
    message = _message(pairs)
    if message.defects or message.get_payload():
        return  # refused before the pass, as a malformed line
    expected = framing_problem(message)
    try:
        head_environ(message._headers)
    except HeadProblem as problem:
        assert expected == (problem.status, problem.reason)
    else:
        assert expected is None


def test_environ_entries_are_eventlets():
    entries, length, connection, chunked = head_environ([
        ("Host", "x"), ("X-Auth-Token", " t "), ("Accept", "a"), ("accept", "b"),
        ("Content-Type", "text/plain"), ("Content-Type", "image/png"),
        ("Content-Length", "5"), ("X_Auth_Token", "smuggled"), ("Connection", "close"),
    ])
    assert entries == {
        "HTTP_HOST": "x", "HTTP_X_AUTH_TOKEN": "t", "HTTP_ACCEPT": "a,b",
        "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5", "HTTP_CONNECTION": "close",
    }
    assert (length, connection, chunked) == ("5", "close", False)


@pytest.mark.parametrize("codings", ["chunked", "Chunked", "chunked,", " chunked ,, "])
def test_any_transfer_encoding_let_through_means_chunked(codings):
    entries, length, _connection, chunked = head_environ([("Transfer-Encoding", codings)])
    assert chunked and length is None and "CONTENT_LENGTH" not in entries


def test_names_become_environ_keys_and_wire_spellings():
    assert environ_key("x-auth-token") == "HTTP_X_AUTH_TOKEN"
    assert environ_key("Content-Length") == "CONTENT_LENGTH"
    assert environ_key("X_Forwarded_For") == ""
    assert wire_name("x-object-meta-COLOR") == "X-Object-Meta-Color"
    assert wire_name("etag") == "Etag"
    with pytest.raises(UnicodeEncodeError):
        wire_name("x-\u5605")
