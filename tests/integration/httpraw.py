"""A tiny raw-HTTP client for edge-case tests: exact bytes on the wire, no client-side fixes."""
from __future__ import annotations

import http.client
import socket
import urllib.parse
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes


def split(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port, parts.path


def request(url: str, method: str = "GET", headers: dict | None = None,
            body: bytes | None = None, path: str | None = None) -> Reply:
    """Send one request; `path` (already quoted, appended to url's path) bypasses quoting."""
    host, port, base = split(url)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.putrequest(method, base + (path or ""), skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None and "Content-Length" not in (headers or {}) and \
                "Transfer-Encoding" not in (headers or {}):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def send_raw(url: str, head: bytes, body: bytes = b"", half_close: bool = True,
             timeout: float = 30) -> bytes:
    """Write bytes to the server's socket as they are; return whatever it answers."""
    host, port, _ = split(url)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def status_line(answer: bytes) -> int | None:
    first = answer.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None


def send_and_watch_close(url: str, data: bytes, timeout: float = 30) -> tuple[bytes, bool]:
    """Send `data` without half-closing; (everything answered, whether the server closed).

    The socket stays open for writing, so the answer ends only when the server closes the
    connection (True) or nothing more comes within `timeout` (False: it kept it open).
    """
    host, port, _ = split(url)
    chunks = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        while True:
            try:
                received = sock.recv(65536)
            except ConnectionResetError:
                return b"".join(chunks), True
            except TimeoutError:
                return b"".join(chunks), False
            if not received:
                return b"".join(chunks), True
            chunks.append(received)


def status_lines(answer: bytes) -> list[int]:
    """Every HTTP status found at the start of a line of `answer` (one per response)."""
    found = []
    for line in answer.split(b"\n"):
        words = line.split()
        if len(words) >= 2 and words[0].startswith(b"HTTP/1.") and words[1].isdigit():
            found.append(int(words[1]))
    return found
