"""A WSGI request's client connection taken over under `eventlet.wsgi` (for protocol
upgrades: the console websocket, the agents' console streams), and raw byte relays.

`take_over(environ)` returns the client's socket; the handler then speaks on it and returns
`handled()`'s empty body, which also tells eventlet.wsgi not to write a response of its own.
`read_head(sock)` reads an HTTP answer's status line and headers; `splice(a, b)` copies bytes
both ways until either side closes.
"""
from __future__ import annotations

import socket

MAX_HEAD = 16 * 1024
CHUNK = 64 * 1024


def take_over(environ) -> socket.socket:
    stream = environ.get("eventlet.input")
    if stream is None or not hasattr(stream, "get_socket"):
        raise RuntimeError("this server cannot hand over its connections")
    return stream.get_socket()


def handled() -> list[bytes]:
    """The WSGI body of a request whose connection was taken over."""
    from common.green import eventlet

    eventlet.wsgi.WSGI_LOCAL.already_handled = True
    return []


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line + headers, bytes already read past them); ConnectionError when the peer
    closes first or the head is too long."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise ConnectionError("answer head too long")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(CHUNK):
            sink.sendall(chunk)
    except OSError:
        pass
    for sock in (source, sink):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy a → b and b → a (green threads) until either side closes; then close both."""
    from common.green import eventlet

    other = eventlet.spawn(_copy, b, a)
    _copy(a, b)
    other.wait()
    a.close()
    b.close()
