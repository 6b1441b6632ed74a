"""What the account and container controllers share: listing reads and metadata writes.

`check_listing_query` applies the listing constraints (412 with a reason); `forward_read`
sends a GET/HEAD to the first replica that answers and streams its body back; `meta_headers`
picks the metadata a PUT/POST may set after checking the limits. A middleware's own request
may also write (`brume.internal`) and read (`brume.sysmeta`) the account's or container's
sysmeta (`x-account-sysmeta-*`, `x-container-sysmeta-*`); a client's never does.
"""
from __future__ import annotations

import itertools
from urllib.parse import parse_qs

from common import constraints
from common.backend_http import BackendError
from proxy.environ_keys import INTERNAL_KEY, SYSMETA_KEY
from proxy.get_resume import StreamCut, first_answer, newest_answer
from proxy.object_headers import check_metadata_bytes
from proxy.responses import RawResponse, client_headers

SYSMETA_PREFIXES = ("x-account-sysmeta-", "x-container-sysmeta-")


def check_listing_query(query: str, max_limit: int) -> str | None:
    if not query:
        return None
    try:
        params = parse_qs(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return "listing parameters must be valid UTF-8"
    limit = params.get("limit", [None])[0]
    # As Swift: a limit that is not a plain number is ignored (the default applies)
    if limit is not None and limit.isdigit() and int(limit) > max_limit:
        return f"Maximum limit is {max_limit}"
    fmt = params.get("format", ["plain"])[0].lower()
    if fmt not in ("plain", "json", "xml", ""):
        return "format must be plain, json or xml"
    # markers may hold a NUL (`marker=name%00` pages from just after `name`, as in Swift)
    for name in ("prefix", "path", "delimiter"):
        for value in params.get(name, []):
            if "\x00" in value:
                return f"{name} contains a NUL byte"
    return None


class BodyStream:
    """Streams a backend body; a broken stream cuts the client connection."""

    def __init__(self, response, chunk_size: int):
        self.response = response
        self.chunk_size = chunk_size

    def __iter__(self):
        while True:
            try:
                chunk = self.response.read(self.chunk_size)
            except BackendError as exc:
                raise StreamCut(f"listing broke: {exc}") from None
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        self.response.close()


def forward_read(app, environ, ring, part, nodes, path: str, drop_acls: bool,
                 translate=None):
    """The first (or newest) replica's answer, streamed; `translate(backend headers)` may
    add client headers derived from backend ones (the container's storage policy)."""
    method = environ["REQUEST_METHOD"]
    query = environ.get("QUERY_STRING", "")
    headers = {}
    accept = environ.get("HTTP_ACCEPT")
    if accept:
        headers["Accept"] = accept
    node_iter = app.client.iter_nodes(ring, part, nodes)
    if environ.get("HTTP_X_NEWEST", "").lower() in ("true", "1", "yes", "on"):
        candidates = list(itertools.islice(node_iter, len(nodes)))
        response, status = newest_answer(app.client, candidates, part, method, path, headers,
                                         query)
    else:
        response, status = first_answer(app.client, node_iter, part, method, path, headers,
                                        query)
    if response is None:
        return None, status
    out = client_headers(response.headers, drop_acls=drop_acls)
    if environ.get(SYSMETA_KEY):
        out.extend((name, value) for name, value in response.headers.items()
                   if name.startswith(SYSMETA_PREFIXES))
    if response.status == 204 and "content-length" not in response.headers:
        out.append(("Content-Length", "0"))  # Swift says so, even on a 204
    if translate is not None:
        out.extend(translate(response.headers))
    if method == "HEAD":
        response.drain_and_release()
        return RawResponse(response.status, out), response.status
    return RawResponse(response.status, out, BodyStream(response, app.chunk_size)), response.status


def meta_headers(environ, kind: str, extra: tuple[str, ...] = ()) -> tuple[dict, str | None]:
    """User metadata (and `extra` headers) of a PUT/POST, or a reason to refuse it."""
    found = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            found[key[5:].replace("_", "-").lower()] = value
    reason = check_metadata_bytes(found, kind)
    if reason:
        return {}, reason
    prefix = constraints.META_PREFIXES[kind]
    remove_prefix = "x-remove-" + prefix[2:]
    sysmeta = f"x-{kind}-sysmeta-" if environ.get(INTERNAL_KEY) else None
    picked = {}
    for name, value in found.items():
        if name.startswith(prefix) or name in extra or (sysmeta and name.startswith(sysmeta)):
            picked[name] = value
        elif name.startswith(remove_prefix):
            picked[prefix + name[len(remove_prefix):]] = ""
        elif name.startswith("x-remove-") and "x-" + name[len("x-remove-"):] in extra:
            picked.setdefault("x-" + name[len("x-remove-"):], "")  # X-Remove-Container-Read
    return picked, None
