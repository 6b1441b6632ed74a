"""The interactive serial console in the browser: `GET /api/console/<server id>` (a
WebSocket), relayed by the dashboard to the compute API's console websocket.

The browser cannot open the compute API's websocket itself: the page's policy allows
connections to the dashboard only, and the console URL carries a one-time token that should
not reach the browser either. So the dashboard, in order:

1. checks the upgrade request (`websocket.server_handshake`), the session cookie and the
   `Origin` (it must be the dashboard's own; a WebSocket is not covered by CORS), answering
   plain HTTP errors (400, 401, 403) before anything else;
2. answers 101 and waits for the browser's first message, which must be the session's CSRF
   token (a page of another site cannot know it);
3. asks compute for a serial console (`POST /servers/{id}/remote-consoles`, with the
   session's token), opens the websocket URL it names, and from then on copies bytes both
   ways unchanged (the browser's frames are masked as a client's must be, compute's are
   not, as a server's are not).

A failure after the 101 closes the websocket with code 4000 and a one-line reason the page
shows (e.g. compute's "the instance must be ACTIVE"). `first_message`, `console_target` and
`close_frame` are logic without IO; `relay` does the socket work.
"""
from __future__ import annotations

import hmac
import json
from urllib.parse import urlsplit

from common import raw_connection, websocket
from common.green import eventlet

FIRST_MESSAGE_TIMEOUT = 10.0
CONNECT_TIMEOUT = 10.0
CLOSE_FAILED = 4000


class ConsoleError(Exception):
    """The console could not be opened; the message is one line, shown to the user."""


def same_origin(origin: str | None, host: str | None, scheme: str) -> bool:
    """Whether a WebSocket's `Origin` is the dashboard's own (`scheme://Host`)."""
    return bool(origin and host) and origin.rstrip("/").lower() == f"{scheme}://{host}".lower()


def close_frame(reason: str, code: int = CLOSE_FAILED) -> bytes:
    """A server's close frame with `reason` cut to what a control frame holds."""
    data = reason.encode("utf-8")[:120].decode("utf-8", "ignore").encode("utf-8")
    return websocket.encode(websocket.CLOSE, code.to_bytes(2, "big") + data)


def console_target(url: str) -> tuple[str, int, str]:
    """(host, port, path with query) of compute's `ws://` console URL; ConsoleError else."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        raise ConsoleError("the compute service named a bad console URL") from None
    if parts.scheme != "ws" or not parts.hostname:
        raise ConsoleError("the compute service named a console URL the dashboard cannot "
                           "open (only ws:// is supported)")
    return parts.hostname, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def first_message(parser: websocket.FrameParser, data: bytes, expected: str) -> bool | None:
    """Feed `data`; None while no data message is complete, else whether the first one is
    the CSRF token `expected`."""
    for opcode, payload in parser.feed(data):
        if opcode in (websocket.TEXT, websocket.BINARY):
            return hmac.compare_digest(payload, expected.encode())
        if opcode == websocket.CLOSE:
            return False
    return None


def read_first_message(client, expected: str) -> websocket.FrameParser:
    """Wait for the CSRF token; the parser (holding the bytes after it); ConsoleError else."""
    parser = websocket.FrameParser(require_mask=True, max_frame=4096)
    client.settimeout(FIRST_MESSAGE_TIMEOUT)
    try:
        while True:
            data = client.recv(4096)
            if not data:
                raise ConsoleError("the browser closed the console")
            verdict = first_message(parser, data, expected)
            if verdict is not None:
                break
    except (OSError, websocket.WebSocketError) as exc:
        raise ConsoleError(f"no CSRF token came ({exc})") from None
    if not verdict:
        raise ConsoleError("missing or wrong CSRF token")
    return parser


def refusal_reason(body_start: bytes) -> str:
    """The message of compute's JSON error body (as far as it came with the head), or ''."""
    try:
        body = json.loads(body_start.decode("utf-8"))
    except ValueError:
        return ""
    for value in body.values() if isinstance(body, dict) else ():
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return value["message"].splitlines()[0] if value["message"] else ""
    return ""


def open_compute(url: str):
    """(socket, bytes past the 101) of compute's console websocket at `url`."""
    host, port, path = console_target(url)
    try:
        sock = eventlet.green.socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise ConsoleError(f"cannot reach the compute console ({exc})") from None
    try:
        request, key = websocket.client_request(f"{host}:{port}", path)
        sock.sendall(request)
        head, rest = raw_connection.read_head(sock)
        websocket.check_server_accept(head, key)
    except (OSError, websocket.WebSocketError) as exc:
        sock.close()
        reason = refusal_reason(rest) if isinstance(exc, websocket.WebSocketError) else ""
        raise ConsoleError(reason or f"the compute console refused the connection ({exc})") \
            from None
    sock.settimeout(None)
    return sock, rest


def relay(client, csrf: str, console_url) -> None:
    """After the 101: check the CSRF message, ask `console_url()` for compute's URL (it
    raises ConsoleError), connect, then splice. Closes `client` in every case."""
    try:
        parser = read_first_message(client, csrf)
        guest, early = open_compute(console_url())
    except ConsoleError as exc:
        try:
            client.sendall(close_frame(str(exc)))
        except OSError:
            pass
        client.close()
        return
    client.settimeout(None)
    try:
        if parser.buffer:
            guest.sendall(parser.buffer)  # keystrokes typed before the console opened
        if early:
            client.sendall(early)
    except OSError:
        guest.close()
        client.close()
        return
    raw_connection.splice(client, guest)
