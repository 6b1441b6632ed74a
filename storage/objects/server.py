"""The object server: a WSGI app storing objects on the node's devices.

`/<dev>/<part>/<account>/<container>/<object>` with PUT, GET, HEAD, POST and DELETE (see
ARCHITECTURE.md for the contract). Disk work lives in `storage.objects.diskfile`, headers in
`storage.objects.headers`, ranges in `storage.objects.byteranges`, conditionals in
`storage.objects.conditional`, container updates in `storage.objects.container_updates`.

Dispatch is a table: `ObjectServer.handlers` maps a method to `handler(req) -> Response`, and
`ObjectServer.prefix_handlers` maps a first path segment (e.g. "recon") to a handler tried
before the method table, so other verbs (REPLICATE, replication pushes, /recon/...) plug in
with one line each.
Handlers (plugged-in ones too) abort with `common.http_errors.HTTPError`, answered as one
line of text by `error_middleware` with `render_plain`; a bug is left to the runner's
`common.last_resort` (a logged traceback and a plain 500).

Every request must be signed with the cluster's backend secret (`common.backend_auth`); an
unsigned, badly signed or stale one gets 401 before any handler runs. The object server signs
its own container updates the same way.

Config: `[server] conf_dir` (the hash salt and backend secret in brume.conf) and
`[object-server]` (`OBJECT_SERVER_OPTIONS`); `make_app(conf_path)` is the factory for
`common.wsgi_server`.
"""
from __future__ import annotations

import contextlib

from webob import Request, Response

from common.backend_auth import load_backend_auth, refuse_dev_cluster_secrets
from common.config import (
    ConfigError,
    Option,
    load_section,
    non_negative_int,
    parse_bool,
    read_ini,
)
from common.constraints import MAX_FILE_SIZE, check_object_name
from common.decimal_text import capped_decimal
from common.http_errors import HTTPError, error_middleware, render_plain
from common.storage_policies import BACKEND_INDEX_HEADER, SINGLE_POLICY, load_policies
from common.timestamp import MAX_SECONDS
from common.wsgi_server import SERVER_OPTIONS
from ring.hashing import load_hasher
from storage.backend_common import (
    BadRequestPath,
    is_ascii_digits,
    request_path,
    request_timestamp,
    require_signed,
    split_storage_path,
)
from storage.objects.byteranges import (
    UnsatisfiableRange,
    content_range,
    multipart_length,
    multipart_parts,
    new_boundary,
    parse_range,
)
from storage.objects.conditional import etag_matches, last_modified_seconds, precondition_status
from storage.objects.container_updates import container_nodes_from_headers, update_containers
from storage.objects.diskfile import (
    KEEP_CACHE_SIZE,
    KEEP_WRITTEN_SIZE,
    DiskFileDeleted,
    DiskFileExpired,
    DiskFileManager,
    DiskFileNotFound,
    is_expired,
)
from storage.objects.headers import (
    OVERRIDE_ETAG,
    OVERRIDE_SIZE,
    check_user_metadata,
    metadata_from_request,
    response_headers,
)
from storage.objects.put_footer import (
    FOOTER_HEADER,
    FooterError,
    body_length_of,
    footer_size,
    split_footer,
)

# PUT body bytes read from the socket and written to the file at a time. Kept under glibc's
# mmap threshold (128 KiB): each larger read allocates a fresh buffer that is mapped,
# page-faulted in and unmapped again; 1 MiB reads cost an object server 16 ms of system time
# per 1 MiB PUT (three replicas), against 9 ms with 64 KiB reads.
RECEIVE_SIZE = 64 * 1024

OBJECT_SERVER_OPTIONS = [
    Option("devices", str, "/srv/node", help="root holding one directory per device"),
    Option("mount_check", parse_bool, False, help="require each device to be a mount point"),
    Option("conn_timeout", float, 0.5, help="seconds to connect to a container server"),
    Option("node_timeout", float, 3.0, help="seconds to wait for a container server's answer"),
    Option("disk_threads", int, 8, help="OS threads for fsync/unlink; 0 runs them inline"),
    Option("get_md5_check", parse_bool, False,
           help="also check a whole GET's MD5 against the ETag (blocks are CRC-checked anyway)"),
    Option("keep_cache_size", non_negative_int, KEEP_CACHE_SIZE,
           help="bytes; a larger body leaves the page cache after each read of it"),
    Option("keep_written_size", non_negative_int, KEEP_WRITTEN_SIZE,
           help="bytes; a larger body leaves the page cache once its PUT made it durable"),
]


class ObjectServer:
    def __init__(self, devices: str, hasher, backend_auth, mount_check=False, conn_timeout=0.5,
                 node_timeout=3.0, disk_threads=0, get_md5_check=False, policies=None,
                 keep_cache_size=KEEP_CACHE_SIZE, keep_written_size=KEEP_WRITTEN_SIZE):
        self.backend_auth = backend_auth
        run_blocking = thread_pool_runner(disk_threads) if disk_threads > 0 else None
        background = background_calls() if disk_threads > 0 else None
        self.policies = policies if policies is not None else SINGLE_POLICY
        self.policy_diskfiles = {
            policy.index: DiskFileManager(devices, hasher, mount_check, run_blocking,
                                          policy.objects_dir, keep_cache_size,
                                          keep_written_size, background)
            for policy in self.policies
        }
        self.diskfiles = self.policy_diskfiles[0]  # policy 0's (and the device checks)
        self.conn_timeout = conn_timeout
        self.get_md5_check = get_md5_check
        self.node_timeout = node_timeout
        self.handlers = {
            "PUT": self.PUT,
            "GET": self.GET,
            "HEAD": self.GET,
            "POST": self.POST,
            "DELETE": self.DELETE,
        }
        self.prefix_handlers: dict[str, object] = {}
        self._wsgi = error_middleware(self._serve, render_plain)

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _serve(self, environ, start_response):
        require_signed(self.backend_auth, environ)
        req = Request(environ)
        handler = None
        if self.prefix_handlers:
            first = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
            handler = self.prefix_handlers.get(first)
        if handler is None:
            handler = self.handlers.get(req.method)
        if handler is None:
            raise HTTPError(405, f"method {req.method[:20]} not allowed",
                            {"Allow": ", ".join(sorted(self.handlers))})
        return handler(req)(environ, start_response)

    # ---- request parsing ----
    def parse_object_path(self, req):
        """(device, partition, account, container, obj, device_path); 400/507 on errors."""
        device, partition, account, container, obj = split_storage_path(
            request_path(req.environ), 5, 5
        )
        reason = check_object_name(obj)
        if reason:
            raise BadRequestPath(reason)
        device_path = self.diskfiles.device_path(device)
        if device_path is None:
            raise HTTPError(507, f"device {device} is not available")
        return device, partition, account, container, obj, device_path

    def manager_for(self, req) -> DiskFileManager:
        """The disk manager of the request's storage policy (`X-Backend-Storage-Policy-Index`,
        0 when absent); 400 for an index this node does not know."""
        policy = self.policies.index_of_header(req.headers.get(BACKEND_INDEX_HEADER))
        if policy is None:
            raise HTTPError(400, "unknown storage policy index")
        return self.policy_diskfiles[policy.index]

    def diskfile_for(self, req):
        device, partition, account, container, obj, _ = self.parse_object_path(req)
        return self.manager_for(req).diskfile(device, partition, account, container, obj)

    # ---- PUT ----
    def PUT(self, req):
        df = self.diskfile_for(req)
        timestamp = request_timestamp(req)
        check_user_metadata(req.headers)
        footer_header = req.headers.get(FOOTER_HEADER)
        if footer_header is None:
            length = body_length = self._content_length(req)
        else:
            length = self._content_length(req, MAX_FILE_SIZE + footer_size(MAX_FILE_SIZE))
            try:
                body_length = body_length_of(footer_header, length)
            except FooterError as exc:
                raise HTTPError(400, str(exc)) from None
            if body_length > MAX_FILE_SIZE:
                raise HTTPError(413, f"object larger than {MAX_FILE_SIZE} bytes")
        stored = metadata_from_request(req.headers, for_post=False)
        nodes = container_nodes_from_headers(req.headers)
        expected_etag = (req.headers.get("ETag") or "").strip().strip('"').lower()
        verdict = df.ondisk()
        newest = verdict.newest_write
        if newest is not None and newest >= timestamp:
            raise HTTPError(409, "a newer write exists", {"X-Backend-Timestamp": newest.normal})
        if_none_match = req.headers.get("If-None-Match")
        if if_none_match is not None and verdict.data_file:
            self._check_put_if_none_match(df, if_none_match)
        with df.writer(compute_md5=footer_header is None) as writer:
            self._receive_body(req, writer, body_length)
            if footer_header is None:
                etag = writer.etag
            else:
                footer = self._receive_footer(req, footer_size(body_length))
                try:
                    etag = split_footer(footer, writer.crcs.finish())
                except FooterError as exc:
                    raise HTTPError(422, str(exc)) from None
            if expected_etag and expected_etag != etag:
                raise HTTPError(422, "ETag does not match the body's MD5")
            metadata = {
                "name": df.name,
                "X-Timestamp": timestamp.normal,
                "Content-Type": req.headers.get("Content-Type") or "application/octet-stream",
                "Content-Length": str(writer.bytes_written),
                "ETag": etag,
            }
            metadata.update(stored)
            path = writer.commit(metadata, timestamp, ".data")
        df.cleanup(added=path.rsplit("/", 1)[1])
        self._update_containers(df, nodes, "PUT", timestamp, {
            "X-Timestamp": timestamp.normal,
            "X-Size": metadata.get(OVERRIDE_SIZE) or metadata["Content-Length"],
            "X-Content-Type": metadata["Content-Type"],
            "X-Etag": metadata.get(OVERRIDE_ETAG) or etag,
        })
        return Response(status=201, headerlist=[
            ("ETag", etag), ("X-Backend-Timestamp", timestamp.normal),
            ("Content-Length", "0"), ("Content-Type", "text/plain"),
        ])

    def _content_length(self, req, limit: int = MAX_FILE_SIZE) -> int | None:
        """Declared body length; None for chunked bodies."""
        value = req.environ.get("CONTENT_LENGTH")
        chunked = "chunked" in req.environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if value in (None, "") or chunked:
            if not chunked:
                raise HTTPError(411, "Content-Length or chunked Transfer-Encoding required")
            return None
        if not is_ascii_digits(value):
            raise HTTPError(400, f"invalid Content-Length: {value[:32]!r}")
        length = int(value)
        if length > limit:
            raise HTTPError(413, f"object larger than {MAX_FILE_SIZE} bytes")
        return length

    def _check_put_if_none_match(self, df, header: str) -> None:
        try:
            df.open()
        except DiskFileNotFound:
            return
        try:
            if etag_matches(header, df.metadata.get("ETag", "")):
                raise HTTPError(412, "If-None-Match: the object exists")
        finally:
            df.close()

    def _receive_body(self, req, writer, length: int | None) -> None:
        stream = req.environ["wsgi.input"]
        with _reading("request body"):
            if length is None:
                while True:
                    chunk = stream.read(RECEIVE_SIZE)
                    if not chunk:
                        return
                    if writer.bytes_written + len(chunk) > MAX_FILE_SIZE:
                        raise HTTPError(413, f"object larger than {MAX_FILE_SIZE} bytes")
                    writer.write(chunk)
            remaining = length
            while remaining > 0:
                chunk = stream.read(min(RECEIVE_SIZE, remaining))
                if not chunk:
                    raise HTTPError(499, "client disconnected before sending the whole body")
                writer.write(chunk)
                remaining -= len(chunk)

    def _receive_footer(self, req, size: int) -> bytes:
        """The `size` bytes after the body (`storage.objects.put_footer`)."""
        stream = req.environ["wsgi.input"]
        parts = []
        with _reading("PUT footer"):
            while size > 0:
                part = stream.read(size)
                if not part:
                    raise HTTPError(499, "client disconnected before sending the PUT footer")
                parts.append(part)
                size -= len(part)
        return b"".join(parts)

    def _update_containers(self, df, nodes, op, timestamp, headers) -> None:
        if not nodes:
            return
        account, container, obj = df.names
        update_containers(
            nodes, op, account, container, obj, headers,
            device_path=df.device_path, hash_=df.hash, timestamp=timestamp.normal,
            conn_timeout=self.conn_timeout, node_timeout=self.node_timeout,
            auth=self.backend_auth,
        )

    # ---- GET / HEAD ----
    def GET(self, req):
        df = self.diskfile_for(req)
        try:
            df.open()
        except DiskFileNotFound as exc:
            return self._not_found(exc)
        try:
            return self._read_response(req, df)
        except BaseException:
            df.close()
            raise

    def _not_found(self, exc) -> Response:
        headers = {}
        if isinstance(exc, (DiskFileDeleted, DiskFileExpired)):
            headers["X-Backend-Timestamp"] = exc.timestamp.normal
        response = Response(status=404, body=b"", content_type="text/plain", charset="utf-8")
        response.headers.update(headers)
        return response

    def _read_response(self, req, df) -> Response:
        metadata = df.metadata
        headers = response_headers(metadata, df.timestamp, df.data_timestamp)
        status = precondition_status(
            req.headers, metadata.get("ETag", ""),
            last_modified_seconds(df.timestamp.seconds), req.method,
        )
        if status is not None:
            df.close()
            headers = [(k, v) for k, v in headers if k != "Content-Length"]
            return Response(status=status, headerlist=headers + [("Content-Length", "0")])
        if req.method == "HEAD":
            df.close()
            return Response(status=200, headerlist=headers, app_iter=[])
        length = df.content_length
        try:
            ranges = parse_range(req.headers.get("Range"), length)
        except UnsatisfiableRange:
            df.close()
            body = b"Requested Range Not Satisfiable\n"
            headers = [(k, v) for k, v in headers if k not in ("Content-Length", "Content-Type")]
            headers += [("Content-Range", f"bytes */{length}"),
                        ("Content-Type", "text/plain; charset=UTF-8"),
                        ("Content-Length", str(len(body)))]
            return Response(status=416, headerlist=headers, body=body)
        if ranges is None:
            body = df.reader(verify=self.get_md5_check)
            return Response(status=200, headerlist=headers, app_iter=body)
        headers = [(k, v) for k, v in headers if k not in ("Content-Length", "Content-Type")]
        content_type = metadata.get("Content-Type", "application/octet-stream")
        reader = df.reader(ranges=ranges, verify=False)
        if len(ranges) == 1:
            start, end = ranges[0]
            headers += [
                ("Content-Type", content_type),
                ("Content-Range", content_range(start, end, length)),
                ("Content-Length", str(end - start)),
            ]
            return Response(status=206, headerlist=headers, app_iter=reader)
        boundary = new_boundary()
        body = ClosingIterator(
            multipart_parts(ranges, boundary, content_type, length, reader.iter_range),
            reader.close,
        )
        headers += [
            ("Content-Type", f"multipart/byteranges;boundary={boundary}"),
            ("Content-Length", str(multipart_length(ranges, boundary, content_type, length))),
        ]
        return Response(status=206, headerlist=headers, app_iter=body)

    # ---- POST ----
    def POST(self, req):
        df = self.diskfile_for(req)
        timestamp = request_timestamp(req)
        check_user_metadata(req.headers)
        stored = metadata_from_request(req.headers, for_post=True)
        try:
            df.open()
        except DiskFileNotFound as exc:
            return self._not_found(exc)
        df.close()
        if df.timestamp >= timestamp:
            raise HTTPError(409, "a newer write exists",
                            {"X-Backend-Timestamp": df.timestamp.normal})
        metadata = {"name": df.name, "X-Timestamp": timestamp.normal}
        metadata.update(stored)
        content_type = self._posted_content_type(req, df)
        if content_type is not None:
            metadata["Content-Type"] = content_type
        df.write_metadata(metadata)
        if "Content-Type" in req.headers:  # the listing shows the new type from now on
            self._update_containers(df, container_nodes_from_headers(req.headers), "PUT",
                                    timestamp, {
                "X-Timestamp": timestamp.normal,
                "X-Size": df.data_metadata.get(OVERRIDE_SIZE)
                or df.data_metadata.get("Content-Length", "0"),
                "X-Content-Type": metadata["Content-Type"],
                "X-Etag": df.data_metadata.get(OVERRIDE_ETAG) or df.data_metadata.get("ETag", ""),
            })
        return Response(status=202, headerlist=[
            ("X-Backend-Timestamp", timestamp.normal),
            ("Content-Length", "0"), ("Content-Type", "text/plain"),
        ])

    @staticmethod
    def _posted_content_type(req, df) -> str | None:
        """The Content-Type a .meta keeps: the POST's own, else one an earlier POST set
        (a .meta replaces the previous one whole), else None (the .data's stays)."""
        posted = req.headers.get("Content-Type")
        if posted:
            return posted
        current = df.metadata.get("Content-Type")
        if current is not None and current != df.data_metadata.get("Content-Type"):
            return current
        return None

    # ---- DELETE ----
    def DELETE(self, req):
        df = self.diskfile_for(req)
        timestamp = request_timestamp(req)
        nodes = container_nodes_from_headers(req.headers)
        if_delete_at = req.headers.get("X-If-Delete-At")
        if if_delete_at is not None:
            # past the last second (however many digits): matches no stored X-Delete-At
            if_delete_at = capped_decimal(if_delete_at.strip(), MAX_SECONDS + 1)
            if if_delete_at is None:
                raise HTTPError(400, "X-If-Delete-At must be an integer")
        verdict = df.ondisk()
        newest = verdict.newest_write
        if newest is not None and newest >= timestamp:
            raise HTTPError(409, "a newer write exists", {"X-Backend-Timestamp": newest.normal})
        existing = None
        if verdict.data_file:
            try:
                df.open(check_expiry=False)
                existing = df.metadata
                df.close()
            except DiskFileNotFound:
                existing = None
        if if_delete_at is not None and (
            existing is None or existing.get("X-Delete-At") != str(if_delete_at)
        ):
            raise HTTPError(412, "X-If-Delete-At does not match the object's X-Delete-At")
        found = existing is not None and (if_delete_at is not None or not is_expired(existing))
        df.write_tombstone({
            "name": df.name,
            "X-Timestamp": timestamp.normal,
        })
        self._update_containers(df, nodes, "DELETE", timestamp, {
            "X-Timestamp": timestamp.normal,
        })
        return Response(status=204 if found else 404, headerlist=[
            ("X-Backend-Timestamp", timestamp.normal),
            ("Content-Length", "0"), ("Content-Type", "text/plain"),
        ])


@contextlib.contextmanager
def _reading(what: str):
    """A broken request stream while reading `what`, as the client's error (408/499)."""
    try:
        yield
    except TimeoutError:
        raise HTTPError(408, f"timed out reading the {what}") from None
    except (OSError, ValueError) as exc:
        raise HTTPError(499, f"error reading the {what}: {exc}") from None


def thread_pool_runner(threads: int):
    """`run(func, *args)` that runs blocking disk calls in `threads` OS threads
    (`common.blocking_calls`); calls made from another OS thread than the server's run inline."""
    from common.blocking_calls import BlockingCallPool

    return BlockingCallPool(threads).run


def background_calls():
    """Where obsolete files are unlinked after the answer: one OS thread of its own, so a
    long unlink never holds up a commit in the disk threads."""
    from common.blocking_calls import BackgroundCalls, BlockingCallPool

    return BackgroundCalls(BlockingCallPool(1))


class ClosingIterator:
    """Wraps a body iterator so the WSGI server's close() reaches the open file."""

    def __init__(self, iterable, close):
        self._iterator = iter(iterable)
        self._close = close

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iterator)

    def close(self) -> None:
        self._close()


def load_object_server_config(conf_path: str) -> tuple[dict, dict]:
    """([server] values, [object-server] values) of a config file; ConfigError when bad."""
    parser = read_ini(conf_path)
    server = load_section(parser, "server", SERVER_OPTIONS, conf_path)
    options = load_section(parser, "object-server", OBJECT_SERVER_OPTIONS, conf_path)
    if not server["conf_dir"]:
        raise ConfigError(f"{conf_path}: [server] conf_dir is required by the object server")
    for name in ("conn_timeout", "node_timeout"):
        if options[name] <= 0:
            raise ConfigError(f"{conf_path}: [object-server] {name} must be positive")
    if not 0 <= options["disk_threads"] <= 256:
        raise ConfigError(f"{conf_path}: [object-server] disk_threads must be 0..256")
    return server, options


def make_app(conf_path: str) -> ObjectServer:
    """WSGI factory for `common.wsgi_server`."""
    server, options = load_object_server_config(conf_path)
    refuse_dev_cluster_secrets(server["bind_ip"], server["conf_dir"], f"{conf_path}: ")
    hasher = load_hasher(server["conf_dir"])
    app = ObjectServer(
        options["devices"], hasher, load_backend_auth(server["conf_dir"]),
        mount_check=options["mount_check"],
        conn_timeout=options["conn_timeout"],
        node_timeout=options["node_timeout"],
        disk_threads=options["disk_threads"],
        get_md5_check=options["get_md5_check"],
        keep_cache_size=options["keep_cache_size"],
        keep_written_size=options["keep_written_size"],
        policies=load_policies(server["conf_dir"]),
    )
    from storage.replication.object_protocol import (
        install,  # REPLICATE, SYNC and /recon/ (durability)
    )

    install(app, server["conf_dir"])
    return app
