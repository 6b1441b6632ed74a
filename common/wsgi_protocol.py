"""The runner's HTTP/1.1 protocol: a request head in, one WSGI environ, the answer out.

`RunnerProtocol` keeps eventlet's `HttpProtocol` for the connection (its keep-alive loop,
the request-line read, the `Input` body reader with 100-continue and chunked bodies) and
does the per-request work itself, where eventlet's general version is a large share of a
small request's cost in every Brume server:

- the head is read by `common.http_headers.parse_headers`, and one pass over its lines
  checks them (`common.http_framing`: header names are tokens, no folded values, one clear
  body length) while it fills the environ's `HTTP_*` keys;
- the environ starts from a copy of one dict per connection (the addresses are read once);
- the answer's head is built with memoized header-name capitalization and a `Date` string
  made once per second.

What a client sees is what eventlet's protocol would send: the same status line, header
names capitalized `Foo-Bar`, a `Date` when the app gave none, the same keep-alive,
`Connection: close` and chunked-answer rules, 100-continue sent on the first body read,
unread request bodies discarded before the next request. Three differences are deliberate:
- a chunked request body is read as chunked whenever the framing check let a
  `Transfer-Encoding` through (eventlet compared the raw value with `chunked` and read a
  `chunked,` body as empty, leaving its bytes to be parsed as the next request);
- an answer that has no body (to HEAD, a 1xx, 204 or 304) gets none even when the app
  returns bytes (eventlet sent them, and the client read them as the next answer);
- a request without `Content-Type` has no `CONTENT_TYPE` (eventlet put `text/plain`).

Request lines of an unusual shape (HTTP/0.9, extra words, other versions) go through the
standard library's parser, as before.
"""
from __future__ import annotations

import http.client
import time
import traceback
import urllib.parse

from common.green import eventlet
from common.http_framing import (
    body_framing_problem,
    is_token,
    normalized_request_line,
    reason_phrase,
    refusal,
    request_target,
)
from common.http_headers import parse_headers

_wsgi = eventlet.wsgi
_VERSIONS = {b"HTTP/1.1": "HTTP/1.1", b"HTTP/1.0": "HTTP/1.0"}
_MAX_REMEMBERED_NAMES = 4096
# header name as sent -> environ key ("" for a name with "_", which the environ drops)
_environ_keys: dict[str, str] = {}
# response header name as the app wrote it -> as it goes on the wire
_spellings: dict[str, str] = {}
_date = [0, b""]


def environ_key(name: str) -> str:
    """`X-Auth-Token` -> `HTTP_X_AUTH_TOKEN`; `Content-Type`/`-Length` -> `CONTENT_TYPE`/
    `CONTENT_LENGTH`; "" for a name with an underscore (it could pass for another header
    once dashes become underscores, so the environ leaves it out)."""
    key = _environ_keys.get(name)
    if key is None:
        if "_" in name:
            key = ""
        else:
            key = name.replace("-", "_").upper()
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
        if len(_environ_keys) < _MAX_REMEMBERED_NAMES:
            _environ_keys[name] = key
    return key


def wire_name(name: str) -> str:
    """A response header name as it is sent: each dash-separated part capitalized
    (`x-object-meta-color` -> `X-Object-Meta-Color`). UnicodeEncodeError when the name is
    not latin-1."""
    spelled = _spellings.get(name)
    if spelled is None:
        spelled = "-".join(
            part.encode("latin-1").capitalize().decode("latin-1") for part in name.split("-")
        )
        if len(_spellings) < _MAX_REMEMBERED_NAMES:
            _spellings[name] = spelled
    return spelled


def date_line(now: float) -> bytes:
    """The `Date:` line of an answer sent at `now`."""
    second = int(now)
    if second != _date[0]:
        _date[1] = f"Date: {_wsgi.format_date_time(second)}\r\n".encode("ascii")
        _date[0] = second
    return _date[1]


def header_line(name: str, value) -> bytes:
    """One `Name: value` line, latin-1 as PEP 3333 asks; UnicodeEncodeError otherwise."""
    return b"%s: %s\r\n" % (name.encode("latin-1"), str(value).encode("latin-1"))


class HeadProblem(Exception):
    """A request head the runner refuses: status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def head_environ(pairs) -> tuple[dict, str | None, str | None, bool]:
    """The environ entries of a request's header lines, checked for framing.

    Returns (entries, content_length, connection, chunked): entries holds `HTTP_*`
    (repeated headers joined with ","), `CONTENT_TYPE` and `CONTENT_LENGTH` (the first of
    each); `connection` is the first Connection header. HeadProblem when a name is not a
    token, a value is folded, or the body length is unclear (`http_framing`).
    """
    entries: dict = {}
    lengths = []
    codings = []
    connection = None
    for name, value in pairs:
        key = _environ_keys.get(name)
        if key is None:
            if not is_token(name):
                raise HeadProblem(400, "invalid header name")
            key = environ_key(name)
        if "\r" in value or "\n" in value:
            raise HeadProblem(400, "folded header lines are not accepted")
        value = value.strip(" \t")
        if not key:
            continue
        if key == "CONTENT_LENGTH":
            lengths.append(value)
            continue
        if key == "HTTP_TRANSFER_ENCODING":
            codings.append(value)
        elif key == "HTTP_CONNECTION" and connection is None:
            connection = value
        elif key == "CONTENT_TYPE":
            entries.setdefault(key, value)
            continue
        known = entries.get(key)
        entries[key] = value if known is None else known + "," + value
    problem = body_framing_problem(lengths, codings)
    if problem is not None:
        raise HeadProblem(*problem)
    length = lengths[0] if lengths else None
    if length:
        entries["CONTENT_LENGTH"] = length
    return entries, length, connection, bool(codings)


class RunnerProtocol(_wsgi.HttpProtocol):
    """Eventlet's HTTP protocol with the per-request work done as the module describes."""

    _connection_environ: dict | None = None

    # -- the head -------------------------------------------------------------------------

    def parse_request(self):
        """Parse and check the request head; False when it was refused (already answered)."""
        self.raw_requestline = line = normalized_request_line(self.raw_requestline)
        words = line[:-2].split(b" ") if line.endswith(b"\r\n") else ()
        version = _VERSIONS.get(words[2]) if len(words) == 3 else None
        if version is None or not words[0].isalpha():
            return self._parse_unusual_request(line)
        self.command = words[0].decode("latin-1")
        self.path = words[1].decode("latin-1")
        self.request_version = version
        self.requestline = line[:-2].decode("latin-1")
        try:
            self.headers = parse_headers(self.rfile, _class=self.MessageClass)
        except http.client.LineTooLong:
            self._refuse(431, "Line too long")
            return False
        except http.client.HTTPException:
            self._refuse(431, "Too many headers")
            return False
        if not self._check_head():
            return False
        connection = (self._connection or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        else:
            self.close_connection = version != "HTTP/1.1"
        return True

    def _parse_unusual_request(self, line: bytes) -> bool:
        """The standard library's parser for request lines of another shape; a target that
        starts with `//` is kept as sent (the standard library folds it to `/`, which would
        turn the path `//v1/a`, no API version, into the account `/v1/a`)."""
        target = request_target(line)
        if not super().parse_request():
            self.close_connection = True
            return False
        if target is not None and target.startswith("//"):
            self.path = target
        return self._check_head()

    def _check_head(self) -> bool:
        headers = self.headers
        try:
            if headers.defects or headers.get_payload():
                raise HeadProblem(400, "malformed header line")
            (self._head_entries, self._content_length, self._connection,
             self._chunked) = head_environ(headers._headers)
        except HeadProblem as problem:
            self._refuse(problem.status, problem.reason)
            return False
        return True

    def send_error(self, code, message=None, explain=None):
        """The standard library's refusals (bad request line, ...) as one-line answers."""
        self._refuse(int(code), message or reason_phrase(int(code)))

    def _refuse(self, status: int, reason: str) -> None:
        self.close_connection = True
        self.wfile.write(refusal(status, reason, with_body=self.command != "HEAD"))
        self.wfile.flush()

    # -- one request ----------------------------------------------------------------------

    def handle_one_request(self):
        self.raw_requestline = self._read_request_line()
        self.conn_state[2] = _wsgi.STATE_REQUEST
        if not self.raw_requestline:
            self.close_connection = 1
            return
        if len(self.raw_requestline) >= self.server.url_length_limit:
            self.wfile.write(_wsgi.RESPONSE_414)
            self.close_connection = 1
            return
        self.command = None
        rfile = self.rfile
        try:
            self.rfile = _wsgi.FileObjectForHeaders(rfile)
            if not self.parse_request():
                return
        except _wsgi.HeaderLineTooLong:
            self._refuse(400, "Header Line Too Long")
            return
        except _wsgi.HeadersTooLarge:
            self._refuse(400, "Headers Too Large")
            return
        finally:
            self.rfile = rfile
        self.environ = self.get_environ()
        self.application = self.server.app
        self.server.outstanding_requests += 1
        try:
            self.handle_one_response()
        except OSError as exc:
            if _wsgi.support.get_errno(exc) not in _wsgi.BROKEN_SOCK:
                raise
        finally:
            self.server.outstanding_requests -= 1

    def _read_request_line(self):
        if self.server.keepalive is True and not self.rfile.closed:
            # the socket's timeout is the client timeout already (set at accept)
            try:
                return self.rfile.readline(self.server.url_length_limit)
            except OSError as exc:
                errno = _wsgi.support.get_errno(exc)
                if errno not in _wsgi.BROKEN_SOCK and errno not in _wsgi.BAD_SOCK:
                    raise
                return b""
        return super()._read_request_line()

    def get_environ(self):
        env = self._connection_environ
        if env is None:
            env = self._connection_environ = self._environ_of_connection()
        env = env.copy()
        env.update(self._head_entries)
        env["REQUEST_METHOD"] = self.command
        path, question, query = self.path.partition("?")
        env["RAW_PATH_INFO"] = path
        env["PATH_INFO"] = urllib.parse.unquote(path, encoding="latin1")
        if question:
            env["QUERY_STRING"] = query
        if env.get("HTTP_EXPECT", "").lower() == "100-continue":
            wfile, wfile_line = self.wfile, b"HTTP/1.1 100 Continue\r\n"
        else:
            wfile = wfile_line = None
        length = self._content_length
        if not self._chunked and length is None:
            length = "0"  # RFC 9112 6.3: no length, not chunked: no body
        env["wsgi.input"] = env["eventlet.input"] = _wsgi.Input(
            self.rfile, length, self.connection, wfile=wfile, wfile_line=wfile_line,
            chunked_input=self._chunked)
        return env

    def _environ_of_connection(self) -> dict:
        env = self.server.get_environ()
        server_host, server_port = _wsgi.addr_to_host_port(self.request.getsockname())
        client_host, client_port = _wsgi.addr_to_host_port(self.client_address)
        env.update({
            "SCRIPT_NAME": "", "SERVER_PROTOCOL": "HTTP/1.0", "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_NAME": server_host, "SERVER_PORT": str(server_port),
            "REMOTE_ADDR": client_host, "REMOTE_PORT": str(client_port),
        })
        return env

    # -- the answer -----------------------------------------------------------------------

    def handle_one_response(self):
        start = time.time()
        environ = self.environ
        request_input = environ["eventlet.input"]
        sent = []  # non-empty once the head went out; Input reads it (no 100 after that)
        request_input.headers_sent = sent
        wfile = self.wfile
        head = None  # [status, header pairs] from start_response
        state = {"chunked": False, "bodyless": False, "status": 200, "length": 0}

        def write(data):
            if head is None:
                raise AssertionError("write() before start_response()")
            if not sent:
                sent.append(1)
                out = [self._answer_head(head[0], head[1], state)]
            else:
                out = []
            if state["chunked"]:
                out.append(b"%x\r\n%s\r\n" % (len(data), data))
            elif not state["bodyless"]:
                out.append(data)
            wfile.writelines(out)
            wfile.flush()
            state["length"] += sum(map(len, out))

        def start_response(status, response_headers, exc_info=None):
            nonlocal head
            code = int(status.split(" ", 1)[0])
            state["status"] = code
            if exc_info:
                try:
                    if sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            state["bodyless"] = (
                code in (204, 304) or self.command == "HEAD" or 100 <= code < 200
                or (self.command == "CONNECT" and 200 <= code < 300)
            )
            head = [status, [(wire_name(name), value) for name, value in response_headers]]
            return write

        result = None
        try:
            try:
                _wsgi.WSGI_LOCAL.already_handled = False
                result = self.application(environ, start_response)
                if head is not None and not sent and hasattr(result, "__len__"):
                    # a complete answer: its length is known
                    if not state["bodyless"] and not _has_header(head[1], "Content-Length"):
                        head[1].append(("Content-Length", str(sum(map(len, result)))))
                    if request_input.should_send_hundred_continue:
                        self.close_connection = 1  # the body will never be asked for
                self._write_body(result, write, state, environ, sent)
            except (Exception, eventlet.Timeout):
                self.close_connection = 1
                self.server.log.info(traceback.format_exc())
                if not sent:
                    start_response("500 Internal Server Error",
                                   [("Content-type", "text/plain"), ("Content-length", "0")])
                    write(b"")
        finally:
            if hasattr(result, "close"):
                result.close()
            self._after_answer(request_input, start, state)

    def _write_body(self, result, write, state, environ, sent) -> None:
        minimum = int(environ.get("eventlet.minimum_write_chunk_size", self.minimum_chunk_size))
        pending = []
        pending_size = 0
        last_size = 0
        for data in result:
            if not data:
                continue
            if isinstance(data, str):
                data = data.encode("ascii")
            pending.append(data)
            pending_size += len(data)
            if pending_size >= minimum:
                write(pending[0] if len(pending) == 1 else b"".join(pending))
                pending = []
                last_size = pending_size
                pending_size = 0
        if _wsgi.WSGI_LOCAL.already_handled:
            self.close_connection = 1  # the app took the connection over
            return
        if pending:
            last_size = pending_size
            write(pending[0] if len(pending) == 1 else b"".join(pending))
        if not sent or (state["chunked"] and last_size):
            write(b"")  # the head of an empty answer, or the last chunk

    def _answer_head(self, status: str, pairs, state) -> bytes:
        lines = [b"%s %s\r\n" % (self.protocol_version.encode("ascii"), status.encode("latin-1"))]
        has_date = has_length = False
        for name, value in pairs:
            lines.append(header_line(name, value))
            if name == "Date":
                has_date = True
            elif name == "Content-Length":
                has_length = True
        if not has_date:
            lines.append(date_line(time.time()))
        connection = (self._connection or "").lower()
        keep_alive = False
        if not self.close_connection and self.server.keepalive and (
                connection == "keep-alive"
                or (self.request_version == "HTTP/1.1" and connection != "close")):
            keep_alive = connection == "keep-alive"  # said back only to who asked
            self.close_connection = 0
        else:
            self.close_connection = 1
        if not has_length:
            if state["bodyless"]:
                pass
            elif self.request_version == "HTTP/1.1":
                state["chunked"] = True
                lines.append(b"Transfer-Encoding: chunked\r\n")
            else:
                self.close_connection = 1  # an HTTP/1.0 client reads to the end
        if self.close_connection:
            lines.append(b"Connection: close\r\n")
        elif keep_alive:
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def _after_answer(self, request_input, start: float, state) -> None:
        if request_input.should_send_hundred_continue:
            # answered without ever asking for the body: the client may or may not send
            # it now, so the connection cannot be reused
            self.close_connection = 1
        if request_input.chunked_input or (
                request_input.position < (request_input.content_length or 0)):
            if self.close_connection == 0:
                try:
                    request_input.discard()
                except (_wsgi.ChunkReadError, OSError) as exc:
                    self.close_connection = 1
                    self.server.log.error(
                        f"error while discarding request body. client="
                        f"{self.get_client_address()[0]} request={self.requestline!r} "
                        f"error={exc}")
        if self.server.log_output:
            client_host, client_port = self.get_client_address()
            self.server.log.info(self.server.log_format % {
                "client_ip": client_host,
                "client_port": client_port,
                "date_time": self.log_date_time_string(),
                "request_line": self.requestline,
                "status_code": state["status"],
                "body_length": state["length"],
                "wall_seconds": time.time() - start,
            })


def _has_header(pairs, wire_spelling: str) -> bool:
    return any(name == wire_spelling for name, _ in pairs)
