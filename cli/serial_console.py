"""`brume server console NAME`: the terminal attached to a guest's serial console.

Asks the compute API for a serial console URL (`remote-consoles`), opens that websocket
(`common.websocket`: masked binary frames up, binary frames down) and, with the terminal in
raw mode, sends what is typed and prints what the guest writes until Ctrl-] (or the
console closes). `ConsoleSession` is the socket part, usable without a terminal (tests).
"""
from __future__ import annotations

import os
import select
import socket
import sys
import termios
import tty
import urllib.parse

from common import raw_connection, websocket

QUIT = b"\x1d"  # Ctrl-]


class ConsoleError(Exception):
    """The console could not be opened; the message is one line."""


class ConsoleSession:
    """One open console websocket."""

    def __init__(self, url: str, timeout: float = 30.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "ws":
            raise ConsoleError(f"unsupported console URL {url!r} (only ws://)")
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        try:
            self.sock = socket.create_connection((parsed.hostname, parsed.port or 80),
                                                 timeout=timeout)
            request, key = websocket.client_request(parsed.netloc, path)
            self.sock.sendall(request)
            head, rest = raw_connection.read_head(self.sock)
            websocket.check_server_accept(head, key)
        except (OSError, websocket.WebSocketError) as exc:
            raise ConsoleError(f"cannot open the console: {exc}") from None
        self.parser = websocket.FrameParser(require_mask=False)
        self.pending = rest
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(websocket.encode(websocket.BINARY, data, mask=True))

    def receive(self) -> bytes:
        """The guest's next bytes (b"" once the console closed)."""
        while not self.closed:
            data, self.pending = self.pending, b""
            if not data:
                data = self.sock.recv(65536)
                if not data:
                    self.closed = True
                    break
            out = b""
            for opcode, payload in self.parser.feed(data):
                if opcode in (websocket.BINARY, websocket.TEXT):
                    out += payload
                elif opcode == websocket.PING:
                    self.sock.sendall(websocket.encode(websocket.PONG, payload, mask=True))
                elif opcode == websocket.CLOSE:
                    self.closed = True
            if out:
                return out
        return b""

    def close(self) -> None:
        try:
            self.sock.sendall(websocket.encode(websocket.CLOSE, b"\x03\xe8", mask=True))
        except OSError:
            pass
        self.sock.close()


def attach(session: ConsoleSession, stdin=None, stdout=None) -> None:
    """Relay the terminal and the console until Ctrl-] or the console's end."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout.buffer
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    session.sock.settimeout(None)
    try:
        if saved is not None:
            tty.setraw(fd)
        while not session.closed:
            ready, _, _ = select.select([fd, session.sock], [], [])
            if session.sock in ready:
                data = session.receive()
                out.write(data)
                out.flush()
            if fd in ready:
                typed = os.read(fd, 1024)
                if not typed or QUIT in typed:
                    typed = typed.split(QUIT, 1)[0]
                    if typed:
                        session.send(typed)
                    break
                session.send(typed)
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        session.close()
