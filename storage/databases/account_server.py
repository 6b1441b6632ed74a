"""The account server: one SQLite database per account replica, over HTTP.

    /<dev>/<part>/<account>              PUT HEAD GET POST DELETE
    /<dev>/<part>/<account>/<container>  PUT  (a container's stats report)

An account PUT creates the database (201) or raises its put timestamp (202); HEAD and GET of
a missing or deleted account answer 404 (the proxy decides when to create accounts). A
container report (`X-Put-Timestamp`, `X-Delete-Timestamp`, `X-Object-Count`,
`X-Bytes-Used`, and optionally `X-Timestamp`: when the stats were taken, default now)
creates the account database on first use and merges the row newest-wins (see
storage.databases.account_db); with `X-Backend-Storage-Policy-Index` it also names the
container's policy, and HEAD/GET add per-policy totals (`policy_stat_headers`). Served by
`common.wsgi_server`; `make_app(conf_path)` builds it.
"""
from __future__ import annotations

from webob import Request, Response

from common.constraints import ACCOUNT_LISTING_LIMIT, check_account_name, check_container_name
from common.http_errors import HTTPError
from common.storage_policies import BACKEND_INDEX_HEADER, load_policies
from common.timestamp import Timestamp
from storage.backend_common import request_path, request_timestamp, split_storage_path
from storage.databases.account_db import AccountBroker
from storage.databases.broker import ZERO_TIMESTAMP, DatabaseNotFound, MetadataRejected
from storage.databases.listing_format import render_account
from storage.databases.server_base import (
    DBServerApp,
    backend_headers,
    listing_response,
    metadata_headers,
    parse_int_header,
)


def policy_stat_headers(policies, stats: dict[int, dict[str, int]]) -> dict[str, str]:
    """`X-Account-Storage-Policy-<Name>-{Container-Count,Object-Count,Bytes-Used}` for each
    policy that has live containers (an index the cluster no longer declares is left out)."""
    headers = {}
    for index, values in sorted(stats.items()):
        policy = policies.get(index)
        if policy is None:
            continue
        prefix = f"X-Account-Storage-Policy-{policy.name}-"
        headers[prefix + "Container-Count"] = str(values["container_count"])
        headers[prefix + "Object-Count"] = str(values["object_count"])
        headers[prefix + "Bytes-Used"] = str(values["bytes_used"])
    return headers


class AccountServer(DBServerApp):
    section = "account-server"
    options = []
    kind = "account"
    db_dir_name = "accounts"
    broker_class = AccountBroker

    def __init__(self, conf_path: str):
        super().__init__(conf_path)
        self.policies = load_policies(self.conf_dir)  # names of the per-policy stats
        self.handlers.update(
            {
                "PUT": self.PUT,
                "HEAD": self.HEAD,
                "GET": self.GET,
                "POST": self.POST,
                "DELETE": self.DELETE,
            }
        )

    # ---- request helpers -------------------------------------------------------------

    def _target(self, req: Request, allow_container: bool):
        device, partition, account, container = split_storage_path(
            request_path(req.environ), 3, 4
        )
        if container is not None and not allow_container:
            raise HTTPError(400, f"container path not allowed for {req.method}")
        reason = check_account_name(account)
        if reason is None and container is not None:
            reason = check_container_name(container)
        if reason:
            raise HTTPError(400, reason)
        self.check_device(device)
        path_hash = self.hasher.hash_path(account)
        broker = self.broker_at(self.db_path_for_hash(device, partition, path_hash))
        return account, container, broker

    def _existing_info(self, broker: AccountBroker) -> dict:
        if not broker.exists():
            raise HTTPError(404, "account not found")
        try:
            info = broker.get_info()
        except DatabaseNotFound:
            raise HTTPError(404, "account not found") from None
        if AccountBroker.status_deleted(info):
            raise HTTPError(404, "account deleted", backend_headers(info))
        return info

    def _info_headers(self, info: dict, broker: AccountBroker | None = None) -> dict:
        headers = {
            "X-Account-Container-Count": str(info["container_count"]),
            "X-Account-Object-Count": str(info["object_count"]),
            "X-Account-Bytes-Used": str(info["bytes_used"]),
            "X-Timestamp": info["created_at"],
            "X-PUT-Timestamp": info["put_timestamp"],
        }
        headers.update(backend_headers(info))
        headers.update(metadata_headers(info["metadata"]))
        if broker is not None:
            headers.update(policy_stat_headers(self.policies, broker.policy_stats()))
        return headers

    # ---- handlers --------------------------------------------------------------------

    def PUT(self, req: Request) -> Response:
        account, container, broker = self._target(req, allow_container=True)
        if container is not None:
            return self._put_container_row(req, broker, account, container)
        timestamp = request_timestamp(req).normal
        updates = self.metadata_updates(req, timestamp)
        if not broker.exists():
            reason = self.validate_merged(dict(updates))
            if reason:
                raise HTTPError(400, reason)
            if broker.create(account, timestamp):
                broker.merge_metadata(updates)
                return Response(status=201)
        info = broker.get_info()
        was_deleted = AccountBroker.status_deleted(info)
        after_put = {**info, "put_timestamp": max(info["put_timestamp"], timestamp)}
        if AccountBroker.status_deleted(after_put):  # older than the deletion: change nothing
            raise HTTPError(409, "account deleted more recently", backend_headers(info))
        try:
            broker.merge_metadata(updates, self.validate_merged)
        except MetadataRejected as exc:
            raise HTTPError(400, str(exc)) from None
        broker.update_put_timestamp(timestamp)
        return Response(status=201 if was_deleted else 202)

    def _put_container_row(self, req, broker: AccountBroker, account: str, container: str):
        put_timestamp = request_timestamp(req, "X-Put-Timestamp").normal
        delete_ts = request_timestamp(req, "X-Delete-Timestamp", required=False)
        stats_ts = request_timestamp(req, "X-Timestamp", required=False)
        object_count = parse_int_header(req, "X-Object-Count", 0)
        bytes_used = parse_int_header(req, "X-Bytes-Used", 0)
        if not broker.exists():
            broker.create(account, put_timestamp)
        elif AccountBroker.status_deleted(broker.get_info()):
            raise HTTPError(404, "account deleted")
        broker.put_container(
            container,
            put_timestamp,
            delete_ts.normal if delete_ts else ZERO_TIMESTAMP,
            object_count,
            bytes_used,
            (stats_ts or Timestamp.now()).normal,
            parse_int_header(req, BACKEND_INDEX_HEADER, 0),
        )
        return Response(status=201)

    def HEAD(self, req: Request) -> Response:
        _, _, broker = self._target(req, allow_container=False)
        info = self._existing_info(broker)
        resp = Response(status=204)
        resp.headers.update(self._info_headers(info, broker))
        resp.content_type = self.head_content_type(req)
        resp.charset = "utf-8"
        return resp

    def GET(self, req: Request) -> Response:
        account, _, broker = self._target(req, allow_container=False)
        params, content_type = self.listing_request(req, ACCOUNT_LISTING_LIMIT)
        info = self._existing_info(broker)
        entries = broker.list_containers(params)
        body = render_account(entries, account, content_type)
        return listing_response(req, body, content_type, self._info_headers(info, broker))

    def POST(self, req: Request) -> Response:
        timestamp = request_timestamp(req).normal
        _, _, broker = self._target(req, allow_container=False)
        updates = self.metadata_updates(req, timestamp)
        self._existing_info(broker)
        try:
            broker.merge_metadata(updates, self.validate_merged)
        except MetadataRejected as exc:
            raise HTTPError(400, str(exc)) from None
        return Response(status=204)

    def DELETE(self, req: Request) -> Response:
        timestamp = request_timestamp(req).normal
        _, _, broker = self._target(req, allow_container=False)
        info = self._existing_info(broker)
        if timestamp <= info["put_timestamp"]:
            raise HTTPError(409, "account created more recently", backend_headers(info))
        broker.mark_deleted(timestamp)
        return Response(status=204)


def make_app(conf_path: str) -> AccountServer:
    return AccountServer(conf_path)
