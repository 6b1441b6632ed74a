"""A loopback pass-through in front of the REAL proxy that injects the store failures the real
cluster cannot produce on demand.

Every request is forwarded unchanged (streamed, Host kept, so the proxy's X-Storage-Url
points back here) to the session cluster's proxy, which stores the data for real. Only these
failures are injected, each because the real store cannot be made to do it at a chosen moment:

- `fail_put_after = N` (with `puts_before_failure = K`): after K object PUTs went through,
  an object PUT whose body passes N bytes is answered 503 and its upstream connection dropped
  mid-body (the real proxy then commits nothing). The real store fails a PUT only when a
  quorum of object servers is gone, and then every PUT from the first byte on: it cannot fail
  one segment in the middle of an upload after earlier segments were stored, which is what
  the service's cleanup of partial uploads must handle. (Writes failing from the start are
  produced for real in the tests, by killing the object servers.)
- `hold_until_active = N`: each object PUT's answer is held (at most 0.5 s) until N object
  PUTs are in flight, and `max_active_puts` records the overlap. Real PUTs of 1 MiB segments
  on loopback finish too fast for their overlap to be observed reliably, so the upload's
  concurrency bound could not be checked without holding them.
- `manifest_failures = N`: the next N SLO manifest PUTs are answered 503 (not forwarded). The
  real proxy cannot be made to refuse a manifest transiently while accepting its segments.
"""
from __future__ import annotations

import threading
import time
import urllib.parse

from common.green import eventlet
from tests.imagesvc.loopback import serve_app

green_http = eventlet.import_patched("http.client")

CHUNK = 65536
HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive"}


class FaultProxy:
    def __init__(self, proxy_url: str):
        parts = urllib.parse.urlsplit(proxy_url)
        self.target = (parts.hostname, parts.port)
        self.fail_put_after: int | None = None
        self.puts_before_failure = 0
        self.object_puts = 0  # object PUTs seen
        self.stored_puts = 0  # object PUTs the real proxy answered 201
        self.hold_until_active = 0
        self.max_active_puts = 0
        self.manifest_failures = 0
        self.active_puts = 0
        self.lock = threading.Lock()
        self.url = ""
        self._stop = None

    def start(self) -> FaultProxy:
        self.url, self._stop = serve_app(self)
        return self

    def stop(self) -> None:
        if self._stop:
            self._stop()

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING", "")
        is_manifest = "multipart-manifest=put" in query
        is_object_put = (method == "PUT" and not is_manifest
                         and environ["PATH_INFO"].count("/") >= 4)
        if method == "PUT" and is_manifest and self.manifest_failures:
            self.manifest_failures -= 1
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        if not is_object_put:
            return self.forward(environ, start_response, fail_after=None)
        with self.lock:
            self.object_puts += 1
            fail_after = (self.fail_put_after if self.object_puts > self.puts_before_failure
                          else None)
            self.active_puts += 1
            self.max_active_puts = max(self.max_active_puts, self.active_puts)
        try:
            result = self.forward(environ, start_response, fail_after=fail_after, hold=True)
        finally:
            with self.lock:
                self.active_puts -= 1
        return result

    def forward(self, environ, start_response, fail_after: int | None, hold: bool = False):
        path = urllib.parse.quote(environ["PATH_INFO"], safe="/")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = [(key[5:].replace("_", "-").title(), value)
                   for key, value in environ.items() if key.startswith("HTTP_")]
        headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        length = environ.get("CONTENT_LENGTH") or None
        chunked = length is None and environ["REQUEST_METHOD"] in ("PUT", "POST")
        headers.append(("Content-Length", length) if length else
                       ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", "0"))
        conn = green_http.HTTPConnection(*self.target, timeout=60)
        conn.putrequest(environ["REQUEST_METHOD"], path, skip_host=True,
                        skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        source, sent = environ["wsgi.input"], 0
        left = int(length) if length else None
        while chunked or (left and left > 0):
            chunk = source.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                break
            sent += len(chunk)
            if fail_after is not None and sent > fail_after:
                conn.close()  # cut mid-body: the real proxy commits nothing
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if left is not None:
                left -= len(chunk)
        if chunked:
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        if hold and response.status == 201:
            with self.lock:
                self.stored_puts += 1
        deadline = time.monotonic() + 0.5
        while hold and self.active_puts < self.hold_until_active and (
                time.monotonic() < deadline):
            eventlet.sleep(0.002)
        out = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        start_response(f"{response.status} {response.reason}", out)
        return self.relay(conn, response)

    @staticmethod
    def relay(conn, response):
        try:
            while chunk := response.read(CHUNK):
                yield chunk
        finally:
            conn.close()
