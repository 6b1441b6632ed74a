"""WebSocket (RFC 6455) framing and handshakes, with no IO: what the compute API's console
proxy and the `brume server console` client share.

`server_handshake(headers)` checks a client's upgrade request and returns the `101`
response headers (or raises `WebSocketError`); `client_request`/`check_server_accept` are the
client's side. `encode(opcode, payload, mask)` makes one frame (clients mask, servers do
not); `FrameParser.feed(bytes)` returns the complete messages received so far, joining
fragments, refusing frames over `max_frame` bytes and unmasked client frames when
`require_mask` is set.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_FRAME = 1024 * 1024


class WebSocketError(Exception):
    """A handshake or frame that breaks the protocol; the message is one line."""


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode()


def server_handshake(headers) -> list[tuple[str, str]]:
    """The headers of the 101 answer to an upgrade request with `headers` (a mapping with
    case-insensitive keys); offers the `binary` subprotocol back when the client asks."""
    connection = {part.strip().lower() for part in headers.get("Connection", "").split(",")}
    if "upgrade" not in connection or headers.get("Upgrade", "").lower() != "websocket":
        raise WebSocketError("not a WebSocket upgrade request")
    if headers.get("Sec-WebSocket-Version", "") != "13":
        raise WebSocketError("Sec-WebSocket-Version must be 13")
    key = headers.get("Sec-WebSocket-Key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise WebSocketError("bad Sec-WebSocket-Key") from None
    answer = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Accept", accept_key(key))]
    offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if "binary" in offered:
        answer.append(("Sec-WebSocket-Protocol", "binary"))
    return answer


def client_request(host: str, path: str) -> tuple[bytes, str]:
    """(the upgrade request's bytes, its key) for `path` (with its query) on `host`."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n")
    return request.encode("ascii"), key


def check_server_accept(head: bytes, key: str) -> None:
    """Raise WebSocketError unless `head` (status line and headers) accepts `key`."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[1] != "101":
        raise WebSocketError(f"the server refused the upgrade: {lines[0].strip()}")
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if fields.get("sec-websocket-accept") != accept_key(key):
        raise WebSocketError("the server's Sec-WebSocket-Accept does not match")


def encode(opcode: int, payload: bytes, mask: bool = False) -> bytes:
    """One final frame; masked with a random key when `mask` (a client's frames)."""
    head = bytearray([0x80 | opcode])
    size = len(payload)
    flag = 0x80 if mask else 0
    if size < 126:
        head.append(flag | size)
    elif size < 1 << 16:
        head.append(flag | 126)
        head += struct.pack("!H", size)
    else:
        head.append(flag | 127)
        head += struct.pack("!Q", size)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + _unmask(payload, key)


def _unmask(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big")


class FrameParser:
    """Incremental frame reader: `feed(data)` → [(opcode, payload)] of complete messages
    (control frames as they come, data messages once their last fragment is in)."""

    def __init__(self, require_mask: bool, max_frame: int = MAX_FRAME):
        self.require_mask = require_mask
        self.max_frame = max_frame
        self.buffer = b""
        self.fragments: list[bytes] = []
        self.fragment_opcode: int | None = None

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        messages = []
        while (frame := self._frame()) is not None:
            fin, opcode, payload = frame
            if opcode >= CLOSE:
                if not fin or len(payload) > 125:
                    raise WebSocketError("a control frame must be final and short")
                messages.append((opcode, payload))
                continue
            if opcode == CONTINUATION:
                if self.fragment_opcode is None:
                    raise WebSocketError("a continuation frame without a first fragment")
            elif opcode in (TEXT, BINARY):
                if self.fragment_opcode is not None:
                    raise WebSocketError("a new message inside a fragmented one")
                self.fragment_opcode = opcode
            else:
                raise WebSocketError(f"unknown opcode {opcode}")
            self.fragments.append(payload)
            if sum(map(len, self.fragments)) > self.max_frame:
                raise WebSocketError("message too large")
            if fin:
                messages.append((self.fragment_opcode, b"".join(self.fragments)))
                self.fragments, self.fragment_opcode = [], None
        return messages

    def _frame(self):
        data = self.buffer
        if len(data) < 2:
            return None
        fin, rsv, opcode = data[0] & 0x80, data[0] & 0x70, data[0] & 0x0F
        masked, size = data[1] & 0x80, data[1] & 0x7F
        if rsv:
            raise WebSocketError("reserved bits set (no extension was agreed)")
        if self.require_mask and not masked:
            raise WebSocketError("client frames must be masked")
        at = 2
        if size == 126:
            if len(data) < 4:
                return None
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            if len(data) < 10:
                return None
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        if size > self.max_frame:
            raise WebSocketError("frame too large")
        key = b""
        if masked:
            if len(data) < at + 4:
                return None
            key, at = data[at:at + 4], at + 4
        if len(data) < at + size:
            return None
        payload = data[at:at + size]
        self.buffer = data[at + size:]
        return bool(fin), opcode, _unmask(payload, key) if masked else payload
