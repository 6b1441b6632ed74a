"""`bulk`: upload a tar archive as many objects, or delete many objects, in one request.

    [filter:bulk]
    use = egg:brume#bulk
    max_containers_per_extraction = 10000
    max_failed_extractions = 1000
    max_deletes_per_request = 10000
    max_failed_deletes = 1000
    yield_frequency = 10

`PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=tar|tar.gz|tar.bz2` reads the
body as a tar archive, streaming (`proxy.tar_stream`: never the whole archive in memory),
and PUTs each regular file as `<container>/<prefix>/<member path>` (at the account level the
member's first component is the container, created when missing). Directories,
links and devices are skipped; a member whose name climbs out with `..` is refused
(`proxy.bulk_paths`). `DELETE` (or `POST`) `...?bulk-delete` with a body of one URL-quoted
`container/object` (or `container`) per line deletes them all.

Each piece is a sub-request through the pipeline below (as the client: its token travels
along, so auth, quotas and rate limits apply to each). The answer is a report
(`proxy.bulk_report`) in text, JSON or XML by Accept. A junk archive found on its first block,
a bad delete list or too many paths is a plain 4xx; once work has started the status is 200
and the report's `Response Status` tells the outcome (201/200, or 400 when some piece was
refused, 502 when a server failed one), with a space sent every `yield_frequency` seconds
between pieces so a long job keeps its connection.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs

from common.config import ConfigError, Option, load_options
from common.http_errors import HTTPError
from proxy.bulk_paths import (
    PathRefused,
    delete_target,
    member_destination,
    read_delete_list,
    upload_path_of,
)
from proxy.bulk_report import pick_format, render
from proxy.responses import close_iter, error, status_line
from proxy.subrequest import call, make_environ
from proxy.tar_stream import JUNK, open_archive
from proxy.target import parse_target

OPTIONS = [
    Option("max_containers_per_extraction", int, 10000, "containers one archive may create"),
    Option("max_failed_extractions", int, 1000, "failed members after which extraction stops"),
    Option("max_deletes_per_request", int, 10000, "paths one bulk delete may list"),
    Option("max_failed_deletes", int, 1000, "failed deletes after which a bulk delete stops"),
    Option("yield_frequency", float, 10.0, "seconds between keep-alive spaces in a report"),
]
COMPRESSIONS = {"tar": "", "tar.gz": "gz", "tgz": "gz", "tar.bz2": "bz2", "tbz2": "bz2"}
PASSED_HEADERS = ("HTTP_X_AUTH_TOKEN", "HTTP_X_STORAGE_TOKEN", "HTTP_REFERER")


class Tally:
    """What a bulk job did so far: counters, failures, and the worst failure seen."""

    def __init__(self):
        self.done = 0
        self.not_found = 0
        self.errors: list[tuple[str, str]] = []
        self.server_failed = False
        self.client_failed = False

    def fail(self, path: str, status: int) -> None:
        self.errors.append((path, status_line(status)))
        if status >= 500:
            self.server_failed = True
        else:
            self.client_failed = True

    def status(self, success: int) -> str:
        if self.server_failed:
            return status_line(502)
        if self.client_failed:
            return status_line(400)
        return status_line(success)


class Bulk:
    def __init__(self, app, options: dict, clock=time.monotonic):
        self.app = app
        self.options = options
        self.clock = clock
        self.capabilities = {
            "bulk_upload": {
                "max_containers_per_extraction": options["max_containers_per_extraction"],
                "max_failed_extractions": options["max_failed_extractions"]},
            "bulk_delete": {
                "max_deletes_per_request": options["max_deletes_per_request"],
                "max_failed_deletes": options["max_failed_deletes"]},
        }

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if "extract-archive" not in query and "bulk-delete" not in query:
            return self.app(environ, start_response)
        params = parse_qs(query, keep_blank_values=True)
        method = environ.get("REQUEST_METHOD")
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if target is None or reason:
            return self.app(environ, start_response)
        if "extract-archive" in params and method == "PUT":
            return self.extract(environ, start_response, target,
                                params["extract-archive"][0])
        if "bulk-delete" in params and method in ("DELETE", "POST"):
            return self.delete(environ, start_response, target)
        return self.app(environ, start_response)

    # --- shared -------------------------------------------------------------------------

    def sub_request(self, environ, method: str, path: str, body=None, length=None) -> int:
        """Status of `method path` through the pipeline below, as the client."""
        headers = {key[5:].replace("_", "-"): environ[key]
                   for key in PASSED_HEADERS if key in environ}
        sub = make_environ(environ, method, path, headers, body_input=body,
                           content_length=length)
        try:
            response = call(self.app, sub)
        except HTTPError as exc:
            return exc.status
        for _chunk in response.app_iter:
            pass
        close_iter(response.app_iter)
        return response.status

    def report(self, environ, start_response, status: int, root: str, fields, errors):
        content_type, body = render(pick_format(environ.get("HTTP_ACCEPT")), root, fields,
                                    errors)
        start_response(status_line(status), [("Content-Type", content_type),
                                             ("Content-Length", str(len(body)))])
        return [body]

    def streamed(self, environ, start_response, root: str, steps, fields_of):
        """200 now, then a space every yield_frequency seconds of `steps`, then the report."""
        fmt = pick_format(environ.get("HTTP_ACCEPT"))
        content_type, _body = render(fmt, root, [], [])
        start_response(status_line(200), [("Content-Type", content_type)])

        def body():
            last = self.clock()
            for _ in steps:
                now = self.clock()
                if now - last >= self.options["yield_frequency"]:
                    last = now
                    yield b" "
            fields, errors = fields_of()
            yield render(fmt, root, fields, errors)[1]

        return body()

    # --- extract-archive ----------------------------------------------------------------

    def extract(self, environ, start_response, target, archive_type: str):
        compression = COMPRESSIONS.get(archive_type.strip().lower().strip("."))
        if compression is None:
            return error(400, f"unsupported archive format {archive_type[:32]!r}: use tar, "
                         "tar.gz or tar.bz2")(environ, start_response)
        upload_path = upload_path_of(target.container, target.obj)
        tally = Tally()
        try:
            archive = open_archive(environ["wsgi.input"], compression)
        except JUNK as exc:
            return self.report(environ, start_response, 400, "extract",
                               self._extract_fields(tally, status_line(400),
                                                    f"Invalid Tar File: {_why(exc)}"), [])
        outcome = {"status": None, "body": ""}

        def steps():
            try:
                yield from self._extract_members(environ, target.account, upload_path,
                                                 archive, tally, outcome)
            except JUNK as exc:
                outcome["status"], outcome["body"] = status_line(400), \
                    f"Invalid Tar File: {_why(exc)}"
            finally:
                archive.close()
            if outcome["status"] is None:
                if tally.done == 0 and not tally.errors:
                    outcome["status"], outcome["body"] = status_line(400), \
                        "Invalid Tar File: No Valid Files"
                else:
                    outcome["status"] = tally.status(201)

        def fields_of():
            return (self._extract_fields(tally, outcome["status"], outcome["body"]),
                    tally.errors)

        return self.streamed(environ, start_response, "extract", steps(), fields_of)

    @staticmethod
    def _extract_fields(tally: Tally, status: str, body: str):
        return [("Number Files Created", tally.done), ("Response Body", body),
                ("Response Status", status)]

    def _extract_members(self, environ, account, upload_path, archive, tally, outcome):
        known_containers: set[str] = set()
        created = 0
        for member in archive:
            yield
            if not member.isfile():
                continue
            try:
                container, obj = member_destination(upload_path, member.name)
            except PathRefused as exc:
                tally.fail(f"{member.name} ({exc})", 400)
            else:
                if container not in known_containers:
                    status = self.sub_request(environ, "HEAD", f"/v1/{account}/{container}")
                    if status == 404:
                        if created >= self.options["max_containers_per_extraction"]:
                            outcome["status"] = status_line(400)
                            outcome["body"] = (
                                "More than %d containers to create from tar."
                                % self.options["max_containers_per_extraction"])
                            return
                        created += 1
                        status = self.sub_request(environ, "PUT",
                                                  f"/v1/{account}/{container}", length=0)
                    if 200 <= status < 300:
                        known_containers.add(container)
                    else:
                        tally.fail(f"/{container}/{obj}", status)
                        continue
                status = self.sub_request(environ, "PUT", f"/v1/{account}/{container}/{obj}",
                                          archive.extractfile(member), member.size)
                if 200 <= status < 300:
                    tally.done += 1
                else:
                    tally.fail(f"/{container}/{obj}", status)
            if len(tally.errors) >= self.options["max_failed_extractions"]:
                return

    # --- bulk-delete --------------------------------------------------------------------

    def delete(self, environ, start_response, target):
        try:
            lines = read_delete_list(environ["wsgi.input"],
                                     self.options["max_deletes_per_request"])
        except ValueError as exc:
            return error(413, str(exc))(environ, start_response)
        except OSError:
            return error(400, "could not read the delete list")(environ, start_response)
        tally = Tally()

        def steps():
            for line in lines:
                yield
                self._delete_one(environ, target.account, line, tally)
                if len(tally.errors) >= self.options["max_failed_deletes"]:
                    return

        def fields_of():
            status = tally.status(200)
            return ([("Number Deleted", tally.done), ("Number Not Found", tally.not_found),
                     ("Response Body", ""), ("Response Status", status)], tally.errors)

        return self.streamed(environ, start_response, "delete", steps(), fields_of)

    def _delete_one(self, environ, account: str, line: str, tally: Tally) -> None:
        try:
            container, obj = delete_target(line)
        except PathRefused as exc:
            tally.fail(f"{line[:256]} ({exc})", 400)
            return
        path = f"/v1/{account}/{container}" + (f"/{obj}" if obj is not None else "")
        status = self.sub_request(environ, "DELETE", path)
        shown = f"/{container}" + (f"/{obj}" if obj is not None else "")
        if 200 <= status < 300:
            tally.done += 1
        elif status == 404:
            tally.not_found += 1
        else:
            tally.fail(shown, status)


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:bulk"), OPTIONS,
                           global_conf.get("__file__", "<config>"))
    for name in ("max_containers_per_extraction", "max_failed_extractions",
                 "max_deletes_per_request", "max_failed_deletes"):
        if options[name] < 1:
            raise ConfigError(f"{global_conf.get('__file__', '<config>')}: "
                              f"[{global_conf.get('__section__', 'filter:bulk')}] "
                              f"{name} must be at least 1")
    return lambda app: Bulk(app, options)
