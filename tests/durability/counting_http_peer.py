"""A bare HTTP/1.1 peer for the backend client's pooling tests, run as its own process.

`python -m tests.durability.counting_http_peer` listens on a free loopback port, prints
that port on stdout and answers every request with 200 and an `X-Connection-Number`
header: the ordinal of the TCP connection that carried it (1 for the first one accepted).
A request without the backend signature header gets 400, so a test sees whether the
client signs. It runs in a process of its own so that nothing the test process has
imported or patched (eventlet, other tests' servers) changes how it answers.
"""
import http.server
import sys
import threading

from common.backend_auth import AUTH_HEADER


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        status = 200 if self.headers[AUTH_HEADER] else 400
        body = b"ok"
        self.send_response(status)
        self.send_header("X-Connection-Number", str(self.connection_number))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_REPLICATE = _answer

    def log_message(self, *args):
        pass


class CountingServer(http.server.HTTPServer):
    """Each accepted connection served by a thread of its own, numbered in accept order."""

    accepted = 0

    def process_request(self, request, client_address):
        self.accepted += 1
        handler = type("NumberedHandler", (Handler,), {"connection_number": self.accepted})
        threading.Thread(target=self._serve_connection, args=(handler, request, client_address),
                         daemon=True).start()

    def _serve_connection(self, handler, request, client_address):
        try:
            handler(request, client_address, self)
        finally:
            self.shutdown_request(request)


def main() -> None:
    server = CountingServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
