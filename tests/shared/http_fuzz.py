"""Hypothesis strategies for malformed requests, and the property every service must keep.

A service's fuzz test lists a few *valid* requests of its API (`FuzzRequest`s: a boot, a
manifest PUT, a ranged GET, ...) and a `FuzzSpec` of its vocabulary (path segments,
header names and likely values, query keys, JSON field names). `mutated(bases, spec)`
draws one of those requests and breaks it in one to three places: a path segment replaced
(arbitrary bytes too, as eventlet hands them over: `%FF` arrives as `\\xff`), the method,
the query string, a header set, changed or dropped, the body replaced (nothing, random
bytes, invalid UTF-8, 100 000-deep JSON) or its JSON document changed at one spot. Since
the rest of the request stays valid, the broken part reaches the handler that must refuse
it.

`assert_handled(app, request)` runs a request through the app in-process (its body fully
iterated) and asserts the property of bad input: a status below 500, a 4xx body of one line,
and no traceback logged (any log record carrying exception info counts).
"""
from __future__ import annotations

import copy
import io
import json
import logging
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from webob import Request

# Bounded so that every service's whole fuzz test stays within seconds.
FUZZ_SETTINGS = settings(
    max_examples=100, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "COPY", "OPTIONS", "REPLICATE",
           "SYNC", "TRACE", "get", "X" * 30]
ODD_SEGMENTS = ["", ".", "..", "\x00", "\xff", "%FF", "\xc0\xaf", "a" * 1100, " ", "?", "#",
                "é".encode().decode("latin-1"), "\ud800".encode("utf-8", "surrogatepass")
                .decode("latin-1"), "AUTH_", "-1", "0", "99999999999999999999"]
ODD_VALUES = ["", " ", "-1", "0", "1", "1.5", "1e999", "nan", "inf", "9" * 40, "\xff", "\x00",
              "true", "false", "null", "[]", "{}", "bytes=0-", "bytes=-0", "bytes=5-1",
              "bytes=0-1,2-3", "bytes=-99999999999999999999", "bytes=x-y", "*", '"x"',
              "W/\"x\"", "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
              "/c/o", "c/o", "/", "//", "c", "%FF", "application/json", "text/plain",
              "0001234567.12345", "1700000000.00000_0000000000000001", "1" * 300]
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
ODD_BODIES = [b"", b"\xff\xfe", b"{", b"[1,", b"null", b'"\xff"', b"1e999", b'{"a": NaN}',
              b'{"\\ud800": 1}', b"[" * 5000, b"{}", b"[]", b"0"]
ODD_JSON = [None, True, 0, -1, 2**70, -2**70, 1.5, 1e308, "", "x" * 300, "\x00", "\ud800", [],
            {}, [[]], {"": None}, "null", "-1", "9" * 30]

latin1_text = st.binary(max_size=24).map(lambda raw: raw.decode("latin-1"))
utf8_text = st.text(max_size=16).map(
    lambda text: text.encode("utf-8", "surrogatepass").decode("latin-1"))
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xff), max_size=40)


@dataclass
class FuzzRequest:
    method: str
    path: str  # PATH_INFO as the server gives it: latin-1 text of the raw bytes
    query: str = ""
    headers: dict = field(default_factory=dict)
    body: bytes | None = None

    def environ(self) -> dict:
        environ = Request.blank("/").environ
        environ.update({"REQUEST_METHOD": self.method, "PATH_INFO": self.path,
                        "QUERY_STRING": self.query})
        body = self.body or b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ["HTTP_" + key] = value
        return environ

    def __repr__(self) -> str:
        body = self.body if self.body is None or len(self.body) < 200 else (
            self.body[:80] + b"...(%d bytes)" % len(self.body))
        return (f"FuzzRequest({self.method!r}, {self.path!r}, {self.query!r}, "
                f"{self.headers!r}, {body!r})")

    def raw_target(self) -> str:
        """The request target a client would have sent (quoted path + query)."""
        path = quote(self.path.encode("latin-1"), safe="/")
        return path + (f"?{self.query}" if self.query else "")


@dataclass
class FuzzSpec:
    """A service's vocabulary: what the mutations draw from."""

    segments: list[str] = field(default_factory=list)  # path segments the service knows
    header_names: list[str] = field(default_factory=list)
    likely_values: dict = field(default_factory=dict)  # header name -> strategy of values
    fixed_values: dict = field(default_factory=dict)  # header name -> the only values allowed
    query_keys: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)  # whole query strings it acts on
    json_keys: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: list(METHODS))


def segments(known: list[str]) -> st.SearchStrategy[str]:
    """A path segment: a name the service knows, else odd, UTF-8 or raw bytes."""
    odd = st.one_of(st.sampled_from(ODD_SEGMENTS), utf8_text, latin1_text)
    return st.one_of(st.sampled_from(known), odd) if known else odd


def queries(spec: FuzzSpec) -> st.SearchStrategy[str]:
    """A raw query string: empty, one the service acts on, encoded pairs, or junk."""
    values = st.one_of(st.sampled_from(ODD_VALUES), latin1_text)
    keys = st.sampled_from(spec.query_keys) if spec.query_keys else latin1_text
    encoded = st.lists(st.tuples(keys, values), min_size=1, max_size=3).map(
        lambda items: urlencode(items, encoding="latin-1"))
    raw = st.one_of(st.sampled_from(["%", "%FF", "a=%FF", "=", "&&", "a=b=c", "limit=%00",
                                     "format=json&format=xml", ";"]), latin1_text)
    options = [st.just(""), encoded, raw]
    if spec.queries:
        options.append(st.sampled_from(spec.queries))
    return st.one_of(*options)


def header_values(spec: FuzzSpec, name: str) -> st.SearchStrategy[str]:
    if name in spec.fixed_values:
        return st.sampled_from(spec.fixed_values[name])
    odd = st.one_of(st.sampled_from(ODD_VALUES), header_text)
    if name in spec.likely_values:
        return st.one_of(spec.likely_values[name], odd)
    return odd


def json_documents(keys: list[str]) -> st.SearchStrategy:
    scalars = st.one_of(st.sampled_from(ODD_JSON), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=False), st.text(max_size=12))
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8)) if keys else st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(key, inner, max_size=4)), max_leaves=10)


def _dumps(doc) -> bytes:
    return json.dumps(doc).encode("utf-8", "surrogatepass")


@st.composite
def mutated_json(draw, doc, keys: list[str]):
    """`doc` changed at one spot: a value replaced, a key dropped or added."""
    doc = copy.deepcopy(doc)
    if not isinstance(doc, (dict, list)) or not doc or draw(st.integers(0, 4)) == 0:
        return draw(json_documents(keys))
    holder = doc
    while True:
        slots = list(holder) if isinstance(holder, dict) else list(range(len(holder)))
        if not slots:
            break
        slot = draw(st.sampled_from(slots))
        inner = holder[slot]
        if isinstance(inner, (dict, list)) and inner and draw(st.booleans()):
            holder = inner
            continue
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "drop":
            del holder[slot]
        elif action == "add" and isinstance(holder, dict):
            holder[draw(st.one_of(st.sampled_from(keys or ["x"]), st.text(max_size=6)))] = \
                draw(json_documents(keys))
        else:
            holder[slot] = draw(st.one_of(st.sampled_from(ODD_JSON), json_documents(keys)))
        break
    return doc


@st.composite
def bodies(draw, spec: FuzzSpec, base: bytes | None):
    """A replacement body; a JSON base is usually changed at one spot instead."""
    if base and len(base) < 10000:
        try:
            doc = json.loads(base)
        except (ValueError, RecursionError):
            doc = None
        if doc is not None and draw(st.integers(0, 2)):
            return _dumps(draw(mutated_json(doc, spec.json_keys)))
    return draw(st.one_of(
        st.none(), st.sampled_from([DEEP_JSON, DEEP_OBJECT]), st.sampled_from(ODD_BODIES),
        st.binary(max_size=64), json_documents(spec.json_keys).map(_dumps)))


MUTATIONS = ["segment", "segment", "method", "query", "header", "header", "header",
             "drop_header", "body", "body"]


@st.composite
def mutated(draw, bases: list[FuzzRequest], spec: FuzzSpec) -> FuzzRequest:
    """One of `bases`, broken in one to three places (see the module docstring)."""
    base = draw(st.sampled_from(bases))
    request = FuzzRequest(base.method, base.path, base.query, dict(base.headers), base.body)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        if kind == "segment":
            parts = request.path.split("/")
            index = draw(st.integers(1, max(1, len(parts) - 1))) if len(parts) > 1 else 0
            replacement = draw(segments(spec.segments))
            if index < len(parts):
                parts[index] = replacement
            else:
                parts.append(replacement)
            request.path = "/".join(parts) if parts[0] == "" else "/" + "/".join(parts)
        elif kind == "method":
            request.method = draw(st.sampled_from(spec.methods))
        elif kind == "query":
            request.query = draw(queries(spec))
        elif kind == "header":
            names = spec.header_names + list(request.headers)
            name = draw(st.one_of(st.sampled_from(names), header_text.filter(
                lambda text: text.strip() and ":" not in text))) if names else "X-Fuzz"
            request.headers[name] = draw(header_values(spec, name))
        elif kind == "drop_header" and request.headers:
            del request.headers[draw(st.sampled_from(sorted(request.headers)))]
        elif kind == "body":
            request.body = draw(bodies(spec, request.body))
    return request


CLASSIC_BODIES = [DEEP_JSON, DEEP_OBJECT, b"\xff\xfe{", b'{"\\ud800": "\\udfff"}', b"1e999",
                  b"[" * 5000]


def classic_breakages(bases: list[FuzzRequest]):
    """Every base request broken in each classic way, one at a time (no randomness): each
    path segment made invalid UTF-8 (`%FF`) or a NUL, each classic bad body (100 000-deep
    JSON, invalid UTF-8, ...), an undecodable query string, each header made `\xff`."""
    for base in bases:
        parts = base.path.split("/")
        for index in range(1, len(parts)):
            for bad in ("\xff", "a\x00b", "\xc0\xaf"):
                broken = parts[:index] + [bad] + parts[index + 1:]
                yield FuzzRequest(base.method, "/".join(broken), base.query,
                                  dict(base.headers), base.body)
        for body in CLASSIC_BODIES:
            yield FuzzRequest(base.method, base.path, base.query, dict(base.headers), body)
        for query in ("%FF=%FF", "a=%FF&limit=%FF&marker=%FF", "\xff=\xff"):
            yield FuzzRequest(base.method, base.path, query, dict(base.headers), base.body)
        for name in base.headers:
            yield FuzzRequest(base.method, base.path, base.query,
                              {**base.headers, name: "\xff"}, base.body)


class TracebackRecorder(logging.Handler):
    """Collects every log record that carries exception info (a traceback)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


class Tracebacks:
    """Context manager: records tracebacks logged anywhere while it is active."""

    def __enter__(self) -> TracebackRecorder:
        self.recorder = TracebackRecorder()
        root = logging.getLogger()
        self.previous_level = root.level
        root.addHandler(self.recorder)
        root.setLevel(logging.DEBUG)
        return self.recorder

    def __exit__(self, *exc) -> None:
        root = logging.getLogger()
        root.removeHandler(self.recorder)
        root.setLevel(self.previous_level)


def assert_handled(app, request: FuzzRequest, environ: dict | None = None,
                   allow: frozenset | set = frozenset()):
    """Run `request` through `app`; fail on a 5xx (other than those in `allow`, which the
    caller checks itself) or on any traceback logged meanwhile."""
    with Tracebacks() as recorder:
        response = Request(environ or request.environ()).get_response(app)
        body = response.body
    logged = [recorder.format(record) for record in recorder.records]
    assert not logged, f"traceback logged for {request!r}:\n{logged[0]}"
    assert response.status_int < 500 or response.status_int in allow, (
        f"{response.status} for {request!r}: {body[:300]!r}")
    if 400 <= response.status_int < 500 and request.method != "HEAD":
        assert body.rstrip(b"\n").count(b"\n") == 0, (
            f"{response.status} for {request!r} has a body of several lines: {body[:300]!r}")
    return response
