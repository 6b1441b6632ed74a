"""common.websocket: RFC 6455's handshake example, frames round-trip through the parser in
any split, fragments join, and broken frames are refused."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import websocket


def test_rfc6455_handshake_example():
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    headers = {"Connection": "keep-alive, Upgrade", "Upgrade": "websocket",
               "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
               "Sec-WebSocket-Protocol": "base64, binary"}
    answer = dict(websocket.server_handshake(headers))
    assert answer["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert answer["Sec-WebSocket-Protocol"] == "binary"
    for broken in ({**headers, "Upgrade": "h2c"}, {**headers, "Sec-WebSocket-Version": "8"},
                   {**headers, "Sec-WebSocket-Key": "short"}):
        with pytest.raises(websocket.WebSocketError):
            websocket.server_handshake(broken)
    request, key = websocket.client_request("h:1", "/console?token=x")
    websocket.check_server_accept(
        f"HTTP/1.1 101 Switching\r\nSec-WebSocket-Accept: {websocket.accept_key(key)}".encode(),
        key)
    with pytest.raises(websocket.WebSocketError):
        websocket.check_server_accept(b"HTTP/1.1 401 Unauthorized", key)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=70000), min_size=1, max_size=4), st.booleans(),
       st.integers(min_value=1, max_value=5000))
def test_frames_round_trip_in_any_split(payloads, mask, step):
    wire = b"".join(websocket.encode(websocket.BINARY, p, mask=mask) for p in payloads)
    parser = websocket.FrameParser(require_mask=mask)
    got = []
    for at in range(0, len(wire), step):
        got += parser.feed(wire[at:at + step])
    assert got == [(websocket.BINARY, p) for p in payloads]


def test_fragments_join_and_control_frames_pass_between():
    first = bytes([0x01, 0x80 | 3]) + b"\0\0\0\0" + b"abc"  # TEXT, not final, masked
    ping = websocket.encode(websocket.PING, b"p", mask=True)
    last = bytes([0x80, 0x80 | 2]) + b"\0\0\0\0" + b"de"
    parser = websocket.FrameParser(require_mask=True)
    assert parser.feed(first + ping + last) == [(websocket.PING, b"p"),
                                                (websocket.TEXT, b"abcde")]


@pytest.mark.parametrize("frame", [
    websocket.encode(websocket.BINARY, b"x"),  # unmasked from a client
    bytes([0x80 | 0x2 | 0x40, 0x80]) + b"\0\0\0\0",  # reserved bit
    bytes([0x80 | 0x3, 0x80]) + b"\0\0\0\0",  # unknown opcode
    bytes([0x80, 0x80]) + b"\0\0\0\0",  # continuation without a start
    bytes([0x82, 0x80 | 127]) + (2 ** 40).to_bytes(8, "big"),  # too large
])
def test_broken_frames_are_refused(frame):
    with pytest.raises(websocket.WebSocketError):
        websocket.FrameParser(require_mask=True).feed(frame)
