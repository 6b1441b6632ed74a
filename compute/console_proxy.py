"""The compute API's console proxy: a user's console websocket relayed to the guest through
its agent (`compute.api.consoles` decides who may connect; this module moves the bytes).

`open_agent_stream` opens the agent's `console-stream` (a signed GET answered with 101, then
the guest's serial console or VNC display as raw bytes; `compute.agent_server`), so the
guest's loopback port never leaves its node. `relay` runs the websocket side: the guest's
bytes go to the client as binary frames; the client's data frames (binary or text) go to the
guest as bytes; pings are answered; a close frame, a protocol error or either side closing
ends both connections.
"""
from __future__ import annotations

import socket
import urllib.parse

from common import raw_connection, websocket
from compute.service_auth import agent_target, sign_headers


class ConsoleUnavailable(Exception):
    """The agent could not open the console; the message is one line."""


def open_agent_stream(agent_url: str, host_name: str, server_id: str, kind: str,
                      secret: str, timeout: float = 10.0) -> tuple[socket.socket, bytes]:
    """(the connected socket, bytes the agent sent past its 101 answer)."""
    parsed = urllib.parse.urlsplit(agent_url)
    path = f"/v1/instances/{server_id}/console-stream?kind={kind}"
    headers = sign_headers(secret, "GET", agent_target(host_name), path, b"")
    try:
        sock = socket.create_connection((parsed.hostname, parsed.port or 80), timeout=timeout)
    except OSError as exc:
        raise ConsoleUnavailable(f"cannot reach the compute host: {exc}") from None
    try:
        head = [f"GET {path} HTTP/1.1", f"Host: {parsed.netloc}", "Connection: Upgrade",
                "Upgrade: brume-console", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii"))
        answer, rest = raw_connection.read_head(sock)
    except OSError as exc:
        sock.close()
        raise ConsoleUnavailable(f"the compute host did not open the console: {exc}") from None
    status = answer.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["101"]:
        sock.close()
        raise ConsoleUnavailable(f"the compute host refused the console ({status.strip()})")
    sock.settimeout(None)
    return sock, rest


def _guest_to_client(guest: socket.socket, client: socket.socket, first: bytes) -> None:
    try:
        if first:
            client.sendall(websocket.encode(websocket.BINARY, first))
        while chunk := guest.recv(raw_connection.CHUNK):
            client.sendall(websocket.encode(websocket.BINARY, chunk))
        client.sendall(websocket.encode(websocket.CLOSE, b"\x03\xe8"))  # 1000: normal
    except OSError:
        pass
    _shut(guest, client)


def _shut(*socks: socket.socket) -> None:
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(client: socket.socket, guest: socket.socket, first: bytes = b"") -> None:
    from common.green import eventlet

    other = eventlet.spawn(_guest_to_client, guest, client, first)
    parser = websocket.FrameParser(require_mask=True)
    try:
        while data := client.recv(raw_connection.CHUNK):
            for opcode, payload in parser.feed(data):
                if opcode in (websocket.TEXT, websocket.BINARY):
                    guest.sendall(payload)
                elif opcode == websocket.PING:
                    client.sendall(websocket.encode(websocket.PONG, payload))
                elif opcode == websocket.CLOSE:
                    client.sendall(websocket.encode(websocket.CLOSE, payload[:2]))
                    raise EOFError
    except (OSError, EOFError, websocket.WebSocketError):
        pass
    _shut(guest, client)
    other.wait()
    client.close()
    guest.close()
