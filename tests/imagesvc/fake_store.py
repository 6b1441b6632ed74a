"""A tiny in-memory Swift-like object store for the image API's fast unit tests.

It speaks just enough of the proxy's API over real HTTP on loopback (served by eventlet's
WSGI server in a thread of its own): `/auth/v1.0` issuing real `proxy.tokens` tokens, container
PUT, object PUT (sized or chunked), static large object manifests, GET and DELETE. Tests can
make it fail object PUTs after a number of bytes to exercise the service's cleanup. The real
store is used by the integration tests.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time

from webob import Request, Response

from proxy.tokens import issue_token, verify_token
from storage.green import eventlet

SECRET = "unit-test-token-secret"
USERS = {
    "service:brume": ("service-key", [".admin", ".reseller_admin"]),
    "test:tester": ("testing", [".admin"]),
    "demo:user": ("demo", [".admin"]),
    "admin:admin": ("admin", [".admin", ".reseller_admin"]),
}


class FakeStore:
    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.manifests: dict[str, list] = {}
        self.containers: set[str] = set()
        self.fail_put_after: int | None = None  # bytes of an object PUT before failing
        self.put_count = 0
        self.active_puts = 0
        self.max_active_puts = 0
        self.hold_until_active = 0  # hold each PUT's answer until this many PUTs overlap
        self.manifest_failures = 0  # answer this many manifest PUTs with 503 first
        self.lock = threading.Lock()
        self.url = ""

    def token(self, user: str) -> str:
        account, name = user.split(":")
        return issue_token(SECRET, account, name, USERS[user][1])[0]

    def names(self) -> set[str]:
        return set(self.objects) | set(self.manifests)

    def __call__(self, environ, start_response):
        req = Request(environ)
        return self.handle(req)(environ, start_response)

    def handle(self, req: Request) -> Response:
        if req.path_info == "/auth/v1.0":
            user = req.headers.get("X-Auth-User", "")
            if user not in USERS or USERS[user][0] != req.headers.get("X-Auth-Key"):
                return Response(status=401)
            account = user.split(":")[0]
            return Response(status=200, headers={
                "X-Auth-Token": self.token(user),
                "X-Storage-Url": f"{self.url}/v1/AUTH_{account}",
                "X-Auth-Token-Expires": "3600",
            })
        info = verify_token(req.headers.get("X-Auth-Token"), SECRET)
        if info is None:
            return Response(status=401)
        parts = req.path_info.split("/", 4)
        if len(parts) < 4 or parts[1] != "v1":
            return Response(status=404)
        if parts[2] != f"AUTH_{info.account}" and not info.is_reseller_admin:
            return Response(status=403)
        if len(parts) == 4:
            if req.method == "PUT":
                self.containers.add(req.path_info)
                return Response(status=201)
            if req.method == "GET":
                return self.listing(req)
            return Response(status=405)
        container = "/".join(parts[:4])
        key = req.path_info
        if req.method == "PUT" and container not in self.containers:
            return Response(status=404)
        if req.method == "PUT":
            return self.put(req, key)
        if req.method == "GET":
            return self.get(key)
        if req.method == "DELETE":
            with self.lock:
                found = self.objects.pop(key, None) is not None
                found = self.manifests.pop(key, None) is not None or found
            return Response(status=204 if found else 404)
        return Response(status=405)

    def put(self, req: Request, key: str) -> Response:
        self.active_puts += 1
        self.max_active_puts = max(self.max_active_puts, self.active_puts)
        try:
            response = self._put(req, key)
            # Like a real store finishing its writes (fsync) after the body arrived: wait a
            # little for other uploads to overlap (green wait; bounded).
            deadline = time.monotonic() + 0.5
            while self.active_puts < self.hold_until_active and time.monotonic() < deadline:
                eventlet.sleep(0.002)
            return response
        finally:
            self.active_puts -= 1

    def _put(self, req: Request, key: str) -> Response:
        stream = req.environ["wsgi.input"]
        length = req.content_length
        data = bytearray()
        self.put_count += 1
        while True:
            chunk = stream.read(65536 if length is None else min(65536, length - len(data)))
            if not chunk:
                break
            data += chunk
            if self.fail_put_after is not None and len(data) > self.fail_put_after:
                return Response(status=503)
        if length is not None and len(data) != length:
            return Response(status=499)
        if req.GET.get("multipart-manifest") == "put":
            if self.manifest_failures:
                self.manifest_failures -= 1
                return Response(status=503)
            segments = json.loads(bytes(data))
            account = "/".join(key.split("/")[:3])
            for segment in segments:
                stored = self.objects.get(account + segment["path"])
                if stored is None or len(stored) != segment["size_bytes"]:
                    return Response(status=400, body=b"bad segment")
                if hashlib.md5(stored).hexdigest() != segment["etag"]:
                    return Response(status=400, body=b"bad etag")
            with self.lock:
                self.manifests[key] = [account + s["path"] for s in segments]
            return Response(status=201)
        with self.lock:
            self.objects[key] = bytes(data)
        return Response(status=201, headers={"ETag": hashlib.md5(data).hexdigest()})

    def listing(self, req: Request) -> Response:
        if req.path_info not in self.containers:
            return Response(status=404)
        start = req.path_info + "/"
        prefix, marker = req.GET.get("prefix", ""), req.GET.get("marker", "")
        names = sorted(key[len(start):] for key in self.names() if key.startswith(start))
        names = [n for n in names if n.startswith(prefix) and n > marker][:2]  # small pages
        body = json.dumps([{"name": n} for n in names]).encode()
        return Response(status=200, body=body, content_type="application/json")

    def get(self, key: str) -> Response:
        if key in self.manifests:
            parts = [self.objects[path] for path in self.manifests[key]]
            return Response(status=200, app_iter=parts, content_length=sum(map(len, parts)))
        if key in self.objects:
            return Response(status=200, body=self.objects[key])
        return Response(status=404)


def serve(store: FakeStore):
    """Serve `store` on a free loopback port in a thread; returns (thread, stop)."""
    ready = threading.Event()
    holder = {}

    def run():
        sock = eventlet.listen(("127.0.0.1", 0))
        holder["sock"] = sock
        store.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready.set()
        try:
            eventlet.wsgi.server(sock, store, log_output=False, debug=False)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    return thread


def serve_app(app):
    """Serve any WSGI app on a free loopback port in a thread; returns (url, stop)."""
    ready = threading.Event()
    holder = {}

    def run():
        sock = eventlet.listen(("127.0.0.1", 0))
        holder["sock"] = sock
        holder["url"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready.set()
        try:
            eventlet.wsgi.server(sock, app, log_output=False, debug=False)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)

    def stop():
        holder["sock"].close()

    return holder["url"], stop
