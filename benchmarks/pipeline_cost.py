"""What each filter of the proxy's pipeline costs per request, in CPU microseconds.

    python benchmarks/pipeline_cost.py [--data-dir DIR] [--count 2000] [--user U --key K]

Builds the proxy's pipeline in this process from a running cluster's
`<data-dir>/etc/proxy-server.conf` (`brume up`: the same filters, settings and storage
nodes), puts a timer between every two layers, then sends `--count` requests of each kind
straight to the pipeline (no socket to the proxy; the storage nodes are real): GET, HEAD, PUT
and DELETE of 4 KiB objects in a fresh container. Prints, per layer, the CPU time spent in
the layer itself (its time minus the time of the layers below it, body iteration included)
per request, and the whole pipeline's CPU per request. CPU is this process's
(`time.process_time_ns`), so waiting for the storage nodes counts for nothing; a filter that
reaches the app through its own reference (an info lookup) has that work counted as its own.

The figures are what a filter adds to every request of that kind, which is what decides the
proxy's ceiling on small requests (`benchmarks/load.py --cpu` prints the proxy's CPU per
request under load). Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from common.green import eventlet  # noqa: E402

eventlet.monkey_patch()

from webob import Request  # noqa: E402

from proxy.pipeline import load_pipeline  # noqa: E402

OPS = ("PUT", "GET", "HEAD", "DELETE")
BODY = os.urandom(4096)


class TimedLayer:
    """Wraps one layer: adds the CPU time of its calls and body iteration to `totals`."""

    def __init__(self, app, name: str, totals: dict):
        self.app = app
        self.name = name
        self.totals = totals

    def __call__(self, environ, start_response):
        started = time.process_time_ns()
        try:
            result = self.app(environ, start_response)
        finally:
            self._add(started)
        return TimedBody(result, self)

    def _add(self, started: int) -> None:
        self.totals[self.name] = self.totals.get(self.name, 0) + \
            time.process_time_ns() - started


class TimedBody:
    def __init__(self, iterable, layer: TimedLayer):
        self.iterable = iterable
        self.layer = layer

    def __iter__(self):
        started = time.process_time_ns()
        iterator = iter(self.iterable)
        self.layer._add(started)
        while True:
            started = time.process_time_ns()
            try:
                chunk = next(iterator)
            except StopIteration:
                self.layer._add(started)
                return
            self.layer._add(started)
            yield chunk

    def close(self) -> None:
        close = getattr(self.iterable, "close", None)
        if close is not None:
            started = time.process_time_ns()
            close()
            self.layer._add(started)


def instrument(pipeline, totals: dict) -> list[str]:
    """Timers between the layers; the names of the layers that got one, outermost first."""
    timed = []
    layers = [*pipeline.layers, pipeline.app]
    for index, (name, layer) in enumerate(zip(pipeline.names, layers, strict=True)):
        if index == 0:
            pipeline.head = TimedLayer(layer, name, totals)
        elif getattr(layers[index - 1], "app", None) is layer:
            layers[index - 1].app = TimedLayer(layer, name, totals)
        else:
            print(f"  ({pipeline.names[index - 1]} keeps no .app: {name} and the layers below "
                  "it are counted as its own)")
            continue
        timed.append(name)
    return timed


def timer_overhead(count: int = 20000) -> float:
    """Nanoseconds one timer adds to the layer above it: the exclusive time of a filter that
    only passes the request on, measured the same way."""
    totals: dict[str, int] = {}

    def empty_app(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    class PassOn:
        app = TimedLayer(empty_app, "app", totals)

        def __call__(self, environ, start_response):
            return self.app(environ, start_response)

    outer = TimedLayer(PassOn(), "pass", totals)
    for _ in range(count):
        for _chunk in outer({}, lambda status, headers, exc_info=None: None):
            pass
    return (totals["pass"] - totals["app"]) / count


def login(app, user: str, key: str) -> tuple[str, str]:
    resp = Request.blank("/auth/v1.0", headers={"X-Auth-User": user, "X-Auth-Key": key}) \
        .get_response(app)
    if resp.status_int != 200:
        raise SystemExit(f"login as {user} failed: {resp.status}")
    return resp.headers["X-Auth-Token"], "/" + resp.headers["X-Storage-Url"].split("/", 3)[3]


def request(app, method: str, path: str, token: str, body: bytes | None = None):
    req = Request.blank(path, method=method, headers={"X-Auth-Token": token})
    if body is not None:
        req.body = body
    resp = req.get_response(app)
    resp.body  # noqa: B018 - read the whole body, as a client does
    if resp.status_int >= 300:
        raise SystemExit(f"{method} {path}: {resp.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.brume"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--user", default="test:tester")
    parser.add_argument("--key", default="testing")
    args = parser.parse_args()
    conf = os.path.join(args.data_dir, "etc", "proxy-server.conf")
    if not os.path.exists(conf):
        raise SystemExit(f"no {conf}: start a cluster with `brume up --data-dir DIR` first")
    pipeline = load_pipeline(conf)
    totals: dict[str, int] = {}
    timed = instrument(pipeline, totals)
    token, account_path = login(pipeline, args.user, args.key)
    container = f"{account_path}/pipeline-cost-{uuid.uuid4().hex[:8]}"
    request(pipeline, "PUT", container, token)
    figures = {}
    for method in OPS:
        for index in range(50):  # warm-up: caches filled, connections open
            name = f"{container}/warm{index}"
            request(pipeline, method, name, token, BODY if method == "PUT" else None)
        totals.clear()
        started = time.process_time_ns()
        for index in range(args.count):
            request(pipeline, method, f"{container}/o{index}", token,
                    BODY if method == "PUT" else None)
        whole = time.process_time_ns() - started
        figures[method] = (dict(totals), whole)
    request(pipeline, "DELETE", container, token)

    overhead = timer_overhead()
    print(f"CPU microseconds per request, {args.count} requests each, 4 KiB objects "
          f"(each layer's figure less the {overhead / 1000:.1f} us a timer adds)")
    print(f"{'layer':22s}" + "".join(f"{op:>9s}" for op in OPS))
    filters_total = dict.fromkeys(OPS, 0.0)
    for position, name in enumerate(timed):
        below = timed[position + 1] if position + 1 < len(timed) else None
        row = []
        for op in OPS:
            totals_of_op = figures[op][0]
            own = totals_of_op.get(name, 0) - (totals_of_op.get(below, 0) if below else 0)
            own = (own / args.count - (overhead if below else 0)) / 1000
            if below:
                filters_total[op] += own
            row.append(own)
        print(f"{name:22s}" + "".join(f"{value:9.1f}" for value in row))
    print(f"{'the filters together':22s}" + "".join(f"{filters_total[op]:9.1f}" for op in OPS))
    print(f"{'whole request':22s}" + "".join(
        f"{figures[op][1] / args.count / 1000:9.1f}" for op in OPS)
        + "   (with the timers and the test client's own work)")


if __name__ == "__main__":
    main()
