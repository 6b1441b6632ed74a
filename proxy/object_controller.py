"""Object requests: GET/HEAD with failover and resume, streamed quorum PUT, POST, DELETE.

Objects are served as stored: large objects and COPY are middleware above the app
(`proxy.middleware.slo`, `.dlo`, `.copy`). A middleware may ask for the object's sysmeta
headers on a read (`brume.sysmeta`) and write sysmeta in its own sub-requests
(`brume.internal`); clients can do neither.
"""
from __future__ import annotations

import itertools
import math
from email.utils import formatdate

from common import constraints
from common.backend_http import BackendError
from common.fan_out import at_once
from common.storage_policies import BACKEND_INDEX_HEADER
from common.timestamp import Timestamp
from common.truth import is_true
from proxy.environ_keys import INTERNAL_KEY, SYSMETA_KEY
from proxy.get_resume import ResumingBody, first_answer, newest_answer
from proxy.object_headers import (
    OVERRIDE_ETAG,
    OVERRIDE_SIZE,
    BadHeaders,
    backend_read_headers,
    backend_write_headers,
    check_delete_at,
    check_if_delete_at,
    check_put_condition,
    check_write,
    container_slot_headers,
    content_length_of,
    lower_headers,
)
from proxy.put_fanout import BodyTooLarge, ClientReadError, PutJob, QuorumLost, put_object
from proxy.quorum import choose_status, fan_out, quorum_size
from proxy.responses import ERROR_CONTENT_TYPE, RawResponse, client_headers, empty, error
from proxy.transaction import carry


def handle(app, req, target):
    method = req.method
    environ = req.environ
    if method in ("GET", "HEAD"):
        return get_or_head(app, environ, target)
    if method == "PUT":
        return put(app, environ, target)
    if method == "POST":
        return post(app, environ, target)
    if method == "DELETE":
        return delete(app, environ, target)
    return error(405, f"method {method} not allowed on objects",
                 [("Allow", "GET, HEAD, PUT, POST, DELETE, COPY")])


def _nodes(app, target, backend_headers: dict):
    """(ring, partition, primaries) of the object under its container's storage policy;
    the policy's index is added to `backend_headers` for the object servers. All None when
    the container servers could not tell the policy (the caller answers 503)."""
    policy, ring = app.object_placement(target.account, target.container)
    if policy is None:
        return None, None, None
    backend_headers[BACKEND_INDEX_HEADER] = str(policy.index)
    part, nodes = ring.get_nodes(target.account, target.container, target.obj)
    return ring, part, nodes


def fetch(app, target, method: str, backend_headers: dict, newest: bool = False):
    """First definitive (or, with newest, the newest) answer from the object's replicas.

    Returns (response or None, node or status, node_iter for resuming, partition).
    """
    ring, part, nodes = _nodes(app, target, backend_headers)
    if ring is None:
        return None, 503, None, None
    node_iter = app.client.iter_nodes(ring, part, nodes)
    if newest:
        candidates = list(itertools.islice(node_iter, len(nodes)))
        response, node_or_status = newest_answer(app.client, candidates, part, method,
                                                 target.path, backend_headers)
        node_iter = app.client.iter_nodes(ring, part, nodes)
    else:
        response, node_or_status = first_answer(app.client, node_iter, part, method,
                                                target.path, backend_headers)
    return response, node_or_status, node_iter, part


def get_or_head(app, environ, target):
    method = environ["REQUEST_METHOD"]
    headers = lower_headers(environ)
    backend_headers = backend_read_headers(headers)
    newest = is_true(headers.get("x-newest"))
    response, status, node_iter, part = fetch(app, target, method, backend_headers, newest)
    if response is None:
        return error(status)
    out = client_headers(response.headers)
    if environ.get(SYSMETA_KEY):
        out.extend(sysmeta_headers(response.headers))
    if method == "HEAD":
        response.drain_and_release()
        return RawResponse(response.status, out)
    body = ResumingBody(app.client, response, node_iter, part, target.path, backend_headers,
                        app.chunk_size)
    return RawResponse(response.status, out, body)


def sysmeta_headers(backend_headers: dict) -> list[tuple[str, str]]:
    """The object's sysmeta, for a middleware that asked (`brume.sysmeta`)."""
    return [(name, value) for name, value in backend_headers.items()
            if name[:17] == "x-object-sysmeta-"]


def container_missing(app, target):
    """404/503 response when the object's container does not exist, else None."""
    info = app.info_cache.container(target.account, target.container)
    if info.exists:
        return None
    if info.status == 404:
        return error(404, "container not found")
    return error(503, "container servers unavailable")


def put(app, environ, target):
    internal = bool(environ.get(INTERNAL_KEY))
    headers = lower_headers(environ)
    try:
        length = content_length_of(headers)
        check_write(headers, internal)
        check_put_condition(headers)
        backend = backend_write_headers(headers, target.obj, Timestamp.now().normal, internal)
    except BadHeaders as exc:
        return error(exc.status, exc.reason)
    missing = container_missing(app, target)
    if missing is not None:
        return missing
    if length is None:
        backend["Transfer-Encoding"] = "chunked"
    else:
        backend["Content-Length"] = str(length)
    ring, part, nodes = _nodes(app, target, backend)
    if ring is None:
        return error(503, "container servers unavailable")
    cpart, cnodes = app.container_ring.get_nodes(target.account, target.container)

    def headers_for_slot(slot: int) -> dict:
        slot_headers = dict(backend)
        slot_headers.update(container_slot_headers(cpart, cnodes, slot))
        return slot_headers

    replicas = len(nodes)
    job = PutJob(
        client=app.client,
        node_iter=app.client.iter_nodes(ring, part, nodes),
        part=part,
        path=target.path,
        headers_for_slot=headers_for_slot,
        replicas=replicas,
        quorum=quorum_size(replicas),
        chunk_size=app.chunk_size,
        queue_depth=app.put_queue_depth,
        max_size=constraints.MAX_FILE_SIZE,
    )
    try:
        answers, size = put_object(job, environ["wsgi.input"].read, length)
    except ClientReadError as exc:
        return error(499, f"client body incomplete: {exc}")
    except BodyTooLarge:
        return error(413, f"object larger than {constraints.MAX_FILE_SIZE} bytes")
    except QuorumLost:
        return error(503, "too few storage nodes accepted the object")
    status = choose_status([answer.status for answer in answers], job.quorum)
    if not 200 <= status < 300:
        return error(status, _put_failure_reason(status))
    etags = [a.headers.get("etag", "") for a in answers if 200 <= a.status < 300]
    etag = max(set(etags), key=etags.count) if etags else ""
    update_missed_containers(app, target, cpart, cnodes, answers, "PUT", {
        "X-Timestamp": backend["X-Timestamp"],
        "X-Size": backend.get(OVERRIDE_SIZE) or str(size),
        "X-Content-Type": backend["content-type"],
        "X-Etag": backend.get(OVERRIDE_ETAG) or etag,
    })
    out = [("Etag", etag), ("Last-Modified", _http_date(backend["X-Timestamp"])),
           ("X-Timestamp", backend["X-Timestamp"])]
    return empty(201, out)


def update_missed_containers(app, target, cpart, cnodes, answers, method: str,
                             headers: dict) -> None:
    """Tell the container replicas whose object replica failed about a write that succeeded.

    Each object replica updates one container replica; when its write failed, that container
    replica would miss the row until replication. Best effort: failures are left to the
    container replicators.
    """
    if not cnodes:
        return
    missed = [cnodes[slot % len(cnodes)] for slot, answer in enumerate(answers)
              if not (200 <= answer.status < 300 or answer.status == 404)]
    if not missed:
        return
    path = target.path

    def send(node) -> None:
        try:
            app.client.request(node, cpart, method, path, headers).drain_and_release()
        except BackendError:
            pass

    at_once(carry(send), missed)


def _put_failure_reason(status: int) -> str:
    if status == 422:
        return "ETag does not match the body"
    if status == 503:
        return "too few storage nodes stored the object"
    return ""


def _http_date(timestamp: str) -> str:
    return formatdate(math.ceil(float(timestamp)), usegmt=True)


def post(app, environ, target):
    headers = lower_headers(environ)
    try:
        check_write(headers, internal=False)
        delete_at = check_delete_at(headers)
    except BadHeaders as exc:
        return error(exc.status, exc.reason)
    missing = container_missing(app, target)
    if missing is not None:
        return missing
    backend = {"X-Timestamp": Timestamp.now().normal}
    for name, value in headers.items():
        if name.startswith("x-object-meta-") or name in ("content-type", "content-encoding",
                                                         "content-disposition",
                                                         "x-object-manifest"):
            backend[name] = value
    if delete_at is not None:
        backend["X-Delete-At"] = delete_at
    ring, part, nodes = _nodes(app, target, backend)
    if ring is None:
        return error(503, "container servers unavailable")
    cpart, cnodes = None, []
    if "content-type" in backend:  # the object servers update the listing's content type
        cpart, cnodes = app.container_ring.get_nodes(target.account, target.container)

    def headers_for_slot(slot: int) -> dict:
        if not cnodes:
            return backend
        slot_headers = dict(backend)
        slot_headers.update(container_slot_headers(cpart, cnodes, slot))
        return slot_headers

    answers = fan_out(app.client, app.client.iter_nodes(ring, part, nodes), len(nodes), part,
                      "POST", target.path, headers_for_slot)
    status = choose_status([a.status for a in answers], quorum_size(len(nodes)))
    if 200 <= status < 300:
        return empty(202)
    return error(status)


def delete(app, environ, target):
    headers = lower_headers(environ)
    try:
        check_if_delete_at(headers)
    except BadHeaders as exc:
        return error(exc.status, exc.reason)
    missing = container_missing(app, target)
    if missing is not None:
        return missing
    backend = {"X-Timestamp": Timestamp.now().normal}
    if "x-if-delete-at" in headers:
        backend["X-If-Delete-At"] = headers["x-if-delete-at"].strip()
    ring, part, nodes = _nodes(app, target, backend)
    if ring is None:
        return error(503, "container servers unavailable")
    cpart, cnodes = app.container_ring.get_nodes(target.account, target.container)

    def headers_for_slot(slot: int) -> dict:
        slot_headers = dict(backend)
        slot_headers.update(container_slot_headers(cpart, cnodes, slot))
        return slot_headers

    answers = fan_out(app.client, app.client.iter_nodes(ring, part, nodes), len(nodes), part,
                      "DELETE", target.path, headers_for_slot)
    status = choose_status([a.status for a in answers], quorum_size(len(nodes)))
    if 200 <= status < 300 or status == 404:
        update_missed_containers(app, target, cpart, cnodes, answers, "DELETE",
                                 {"X-Timestamp": backend["X-Timestamp"]})
    if 200 <= status < 300:
        return empty(204, [("Content-Type", ERROR_CONTENT_TYPE)])  # typed as Swift's
    return error(status)
