"""The SLO manifest PUT (`?multipart-manifest=put`): check every segment, store the manifest.

The client's manifest (`slo_manifest.parse_put_body`) names segment objects and inline
bytes. Each segment object is HEADed as the user (through the SLO middleware, so a nested
SLO answers with its large object's size and ETag): it must exist and be readable, match the
`etag`/`size_bytes` given, and contain its `range`. The problems are reported together,
one `<path>, <reason>` line each (a 400); a client `ETag` that is not the large object's is
a 422; `If-None-Match` may only be `*` (the manifest is then written only if nothing is
there). With `?heartbeat=on` the answer is a 202 sent at once whose body is a space per
checked segment (keeping the connection alive), then a blank line and the outcome as text
or JSON (`Accept: application/json`), like Swift's bulk middleware.
"""
from __future__ import annotations

import hashlib
import io
import json

from common import constraints
from common.green import eventlet
from proxy.environ_keys import IDENTITY_KEY
from proxy.middleware.slo_manifest import (
    SYSMETA_DEPTH,
    SYSMETA_ETAG,
    SYSMETA_SIZE,
    data_entry,
    depth_of,
    is_slo,
    parse_put_body,
    resolve_range,
    stored_entry,
)
from proxy.object_headers import OVERRIDE_ETAG, OVERRIDE_SIZE, lower_headers
from proxy.responses import RawResponse, close_iter, error, status_line
from proxy.segments import Segment, large_object_etag
from proxy.subrequest import call, make_environ
from proxy.target import object_target
from proxy.transaction import carry

HEAD_CONCURRENCY = 10
EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed or "
         "otherwise incorrect.",
    422: "Unable to process the contained instructions",
}
STORED_HEADERS = ("content-type", "content-encoding", "content-disposition", "x-delete-at",
                  "x-delete-after")


# The manifest's own PUT answer headers that are not the large object's.
NOT_PASSED_ON = frozenset({"etag", "content-length", "content-type", "last-modified"})


class Outcome:
    """How a manifest PUT ended: a status, a body text, per-segment errors, or the stored
    manifest's ETag and Last-Modified."""

    def __init__(self, status: int, body: str = "", errors: list | None = None,
                 etag: str = "", last_modified: str = "", passed: list | None = None):
        self.status = status
        self.body = body
        self.errors = errors or []
        self.etag = etag
        self.last_modified = last_modified
        self.passed = passed or []  # what the stored PUT answered besides (X-Object-Version-Id)

    def as_response(self):
        if 200 <= self.status < 300:
            headers = [("Etag", f'"{self.etag}"'), ("Content-Length", "0")] + self.passed
            if self.last_modified:
                headers.append(("Last-Modified", self.last_modified))
            return RawResponse(self.status, headers, [b""])
        if not self.errors:
            return error(self.status, self.body)
        return error(self.status, "bad segments: " + "; ".join(
            f"{path}, {reason}" for path, reason in self.errors))

    def report(self, as_json: bool) -> bytes:
        """The heartbeat body's outcome (after the keep-alive spaces)."""
        fields = {"Response Status": status_line(self.status)}
        if 200 <= self.status < 300:
            fields["Etag"] = f'"{self.etag}"'
            fields["Last Modified"] = self.last_modified
            fields["Response Body"] = ""
        else:
            reason = status_line(self.status).split(" ", 1)[1]
            explanation = EXPLANATIONS.get(self.status, self.body)
            fields["Response Body"] = f"{reason}\n{explanation}" if explanation else reason
        fields["Errors"] = [list(item) for item in self.errors]
        if as_json:
            return json.dumps(fields).encode()
        lines = [f"{key}: {value}" for key, value in fields.items() if key != "Errors"]
        lines.append("Errors:")
        lines.extend(f"{path}, {reason}" for path, reason in self.errors)
        return ("\n".join(lines) + "\n").encode("utf-8", "replace")


class ManifestPut:
    """One manifest PUT; `serve(environ, target)` is the SLO middleware's GET/HEAD."""

    def __init__(self, middleware, environ, target):
        self.middleware = middleware
        self.environ = environ
        self.target = target
        self.headers = lower_headers(environ)

    def respond(self):
        refusal, entries = self._read_manifest()
        if refusal is not None:
            return refusal
        if "heartbeat=on" in self.environ.get("QUERY_STRING", ""):
            accept = self.headers.get("accept", "")
            as_json = "application/json" in accept
            content_type = "application/json" if as_json else "text/plain"
            return RawResponse(202, [("Content-Type", content_type)],
                               self._heartbeat(entries, as_json))
        outcome = None
        for step in self._steps(entries):
            outcome = step
        return outcome.as_response()

    def _heartbeat(self, entries, as_json: bool):
        outcome = None
        for step in self._steps(entries):
            if step is None:
                yield b" "
            else:
                outcome = step
        yield b"\r\n\r\n" + outcome.report(as_json)

    # -- the request ----------------------------------------------------------------------

    def _read_manifest(self):
        """(refusal, None) or (None, the client's entries)."""
        limit = self.middleware.max_manifest_size
        if_none_match = self.headers.get("if-none-match")
        if if_none_match is not None and if_none_match.strip() != "*":
            return error(400, "If-None-Match on a manifest PUT may only be *"), None
        length = self.headers.get("content-length")
        if length is None or not length.isdigit():
            return error(411, "manifest PUT needs a Content-Length"), None
        if int(length) > limit:
            return error(413, f"manifest larger than {limit} bytes"), None
        try:
            body = self.environ["wsgi.input"].read(int(length))
        except (OSError, ValueError) as exc:
            return error(499, f"client body incomplete: {exc}"), None
        if len(body) != int(length):
            return error(499, "client body incomplete"), None
        entries, reason = parse_put_body(body, self.middleware.max_manifest_segments)
        if entries is None:
            return error(400, reason), None
        own_path = f"/{self.target.container}/{self.target.obj}"
        if any(entry.path == own_path for entry in entries):
            return error(400, f"{own_path} cannot be a segment of itself"), None
        return None, entries

    # -- checking the segments ----------------------------------------------------------

    def _head(self, entry):
        if entry.data is not None:
            return None
        # internal: a sub-SLO's answer carries its nesting depth (SYSMETA_DEPTH)
        sub = make_environ(self.environ, "HEAD", f"/v1/{self.target.account}{entry.path}",
                           internal=True)
        sub_target = object_target(sub["PATH_INFO"])
        if sub_target is None:
            return error(400, "bad segment path")
        return self.middleware.serve(sub, sub_target)

    def _steps(self, entries):
        """Yield None per checked segment, then the Outcome."""
        pool = eventlet.GreenPool(HEAD_CONCURRENCY)
        problems = []
        unauthorized = False
        stored = []
        segments = []
        nested = 0  # deepest manifest among the segments
        for entry, response in zip(entries, pool.imap(carry(self._head), entries),
                                   strict=True):
            if response is None:
                stored.append(data_entry(entry.data))
                segments.append(Segment("", len(entry.data), "", data=entry.data))
                continue
            yield None
            if not 200 <= response.status < 300:
                unauthorized = unauthorized or response.status == 401
                problems.append((entry.given, status_line(response.status)))
                continue
            real_etag = (response.header("Etag") or "").strip('"')
            real_size = int(response.header("Content-Length") or 0)
            if entry.etag is not None and entry.etag != real_etag:
                problems.append((entry.given, "Etag Mismatch"))
            if entry.size is not None and entry.size != real_size:
                problems.append((entry.given, "Size Mismatch"))
            byte_range = (0, real_size - 1)
            if entry.range_spec is not None:
                byte_range, reason = resolve_range(entry.range_spec, real_size)
                if byte_range is None:
                    problems.append((entry.given, reason))
                    continue
            sub_slo = is_slo(response)
            if sub_slo:
                nested = max(nested, depth_of(response))
            elif response.header("X-Object-Manifest") is not None:
                nested = max(nested, 1)  # a DLO reads its own segments as stored
            item = stored_entry(entry.path, real_size, real_etag,
                                response.header("Content-Type") or "application/octet-stream",
                                response.header("Last-Modified") or "", byte_range, sub_slo)
            stored.append(item)
            first, last = byte_range
            segments.append(Segment(entry.path, last - first + 1, real_etag, first, real_size))
        if unauthorized and self.environ.get(IDENTITY_KEY) is None:
            # Anonymous: the manifest could not be written anyway (write ACLs name users).
            yield Outcome(401, "unauthorized")
            return
        if problems:
            yield Outcome(400, "bad segments", problems[:1000])
            return
        total = sum(s.size for s in segments)
        if total > constraints.MAX_FILE_SIZE * 1000:
            yield Outcome(413, "large object too large")
            return
        slo_etag = large_object_etag(segments)
        client_etag = self.headers.get("etag", "").strip('"')
        if client_etag and client_etag != slo_etag:
            yield Outcome(422, "ETag does not match the large object")
            return
        yield self._store(stored, slo_etag, total, nested + 1)

    def _store(self, stored: list, slo_etag: str, total: int, depth: int) -> Outcome:
        manifest_body = json.dumps(stored, separators=(",", ":")).encode()
        put_headers = {name: value for name, value in self.headers.items()
                       if name.startswith("x-object-meta-") or name in STORED_HEADERS}
        if "if-none-match" in self.headers:
            put_headers["if-none-match"] = "*"
        put_headers["X-Static-Large-Object"] = "True"
        put_headers[SYSMETA_ETAG] = slo_etag
        put_headers[SYSMETA_SIZE] = str(total)
        put_headers[SYSMETA_DEPTH] = str(depth)
        manifest_md5 = hashlib.md5(manifest_body, usedforsecurity=False).hexdigest()
        put_headers[OVERRIDE_SIZE] = str(total)
        put_headers[OVERRIDE_ETAG] = f"{manifest_md5}; slo_etag={slo_etag}"
        target = self.target
        response = call(self.middleware.app, make_environ(
            self.environ, "PUT", f"/v1/{target.account}/{target.container}/{target.obj}",
            put_headers, body_input=io.BytesIO(manifest_body),
            content_length=len(manifest_body), internal=True))
        body = b"".join(response.app_iter) if response.status != 201 else b""
        close_iter(response.app_iter)
        if response.status != 201:
            return Outcome(response.status, body.decode("utf-8", "replace").strip())
        passed = [(name, value) for name, value in response.headers
                  if name.lower() not in NOT_PASSED_ON]
        return Outcome(201, etag=slo_etag,
                       last_modified=response.header("Last-Modified") or "", passed=passed)
