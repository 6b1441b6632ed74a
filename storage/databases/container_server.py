"""The container server: one SQLite database per container replica, over HTTP.

    /<dev>/<part>/<account>/<container>            PUT HEAD GET POST DELETE
    /<dev>/<part>/<account>/<container>/<object>   PUT DELETE  (object rows)

A container PUT creates the database (201) or raises its put timestamp and merges its
metadata (202); PUT and DELETE then report the container's stats to the account replicas
named by `X-Account-Host` (`ip:port[,ip:port...]`), `X-Account-Device` (same count) and
`X-Account-Partition`. A failed report never fails the client: the stats stay unreported
(`reported_*` columns) and the container updater sends them later. Object rows come from
object servers; a row for a container with no database gets 404 (the object server then
keeps an async pending). A container's storage policy is chosen at creation and kept in its
metadata (`storage.databases.container_policy`). Served by `common.wsgi_server`;
`make_app(conf_path)` builds it.
"""
from __future__ import annotations

import logging

from webob import Request, Response

from common.config import Option
from common.constraints import (
    CONTAINER_LISTING_LIMIT,
    check_account_name,
    check_container_name,
    check_object_name,
)
from common.fan_out import at_once
from common.http_client import HTTPClientError
from common.http_errors import HTTPError
from common.timestamp import Timestamp
from storage import backend_client
from storage.backend_common import (
    is_ascii_digits,
    is_partition,
    request_path,
    request_timestamp,
    split_storage_path,
)
from storage.databases.broker import DatabaseNotFound, MetadataRejected
from storage.databases.container_db import ContainerBroker
from storage.databases.container_policy import POLICY_KEY, policy_update, stored_policy
from storage.databases.group_commit import GroupCommitter
from storage.databases.listing_format import render_container
from storage.databases.server_base import (
    DBServerApp,
    backend_headers,
    last_modified_header,
    listing_response,
    metadata_headers,
    parse_int_header,
)

log = logging.getLogger("brume.container")

CONTAINER_OPTIONS = [
    Option("account_update_conn_timeout", float, 0.5),
    Option("account_update_timeout", float, 3.0),
]


def parse_account_nodes(req: Request) -> list[tuple[str, int, str, str]]:
    """[(ip, port, device, partition)] from the X-Account-* headers; 400 when inconsistent."""
    hosts = req.headers.get("X-Account-Host", "").strip()
    if not hosts:
        return []
    devices = req.headers.get("X-Account-Device", "").strip()
    partition = req.headers.get("X-Account-Partition", "").strip()
    host_list = [h.strip() for h in hosts.split(",")]
    device_list = [d.strip() for d in devices.split(",")] if devices else []
    if len(host_list) != len(device_list) or not is_partition(partition):
        raise HTTPError(400, "X-Account-Host/-Device/-Partition do not match")
    nodes = []
    for host, device in zip(host_list, device_list, strict=True):
        ip, sep, port = host.rpartition(":")
        if not sep or not ip or not is_ascii_digits(port) or not device or "/" in device:
            raise HTTPError(400, f"bad X-Account-Host: {host[:64]!r}")
        nodes.append((ip.strip("[]"), int(port), device, partition))
    return nodes


class ContainerServer(DBServerApp):
    section = "container-server"
    options = CONTAINER_OPTIONS
    kind = "container"
    db_dir_name = "containers"
    broker_class = ContainerBroker

    def __init__(self, conf_path: str):
        super().__init__(conf_path)
        self.committer = GroupCommitter()
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

    def _target(self, req: Request, allow_object: bool):
        device, partition, account, container, obj = split_storage_path(
            request_path(req.environ), 4, 5
        )
        if obj is not None and not allow_object:
            raise HTTPError(400, "object path not allowed for this method")
        reason = check_account_name(account) or check_container_name(container)
        if reason is None and obj is not None:
            reason = check_object_name(obj)
        if reason:
            raise HTTPError(400, reason)
        self.check_device(device)
        path_hash = self.hasher.hash_path(account, container)
        broker = self.broker_at(self.db_path_for_hash(device, partition, path_hash))
        return account, container, obj, broker

    @staticmethod
    def _info_headers(info: dict) -> dict:
        headers = {
            "X-Container-Object-Count": str(info["object_count"]),
            "X-Container-Bytes-Used": str(info["bytes_used"]),
            "X-Timestamp": info["created_at"],
            "X-PUT-Timestamp": info["put_timestamp"],
            "Last-Modified": last_modified_header(info),
        }
        headers.update(backend_headers(info))
        headers.update(metadata_headers(info["metadata"]))
        return headers

    def _existing_info(self, broker: ContainerBroker) -> dict:
        """Info of a live container; 404 (with backend timestamps if deleted) otherwise."""
        if not broker.exists():
            raise HTTPError(404, "container not found")
        try:
            info = broker.get_info()
        except DatabaseNotFound:
            raise HTTPError(404, "container not found") from None
        if ContainerBroker.status_deleted(info):
            raise HTTPError(404, "container deleted", backend_headers(info))
        return info

    # ---- handlers --------------------------------------------------------------------

    def PUT(self, req: Request) -> Response:
        timestamp = request_timestamp(req).normal
        account, container, obj, broker = self._target(req, allow_object=True)
        if obj is not None:
            return self._put_object_row(req, broker, obj, timestamp)
        nodes = parse_account_nodes(req)
        updates = self.metadata_updates(req, timestamp)
        if not broker.exists():
            reason = self.validate_merged(dict(updates))
            if reason:
                raise HTTPError(400, reason)
            updates.update(policy_update(req.headers, None, False, timestamp))
            created = broker.create(account, container, timestamp)
            if created:
                broker.merge_metadata(updates)
                self._report(broker, account, container, nodes)
                return Response(status=201)
        info = broker.get_info()
        was_deleted = ContainerBroker.status_deleted(info)
        after_put = {**info, "put_timestamp": max(info["put_timestamp"], timestamp)}
        if ContainerBroker.status_deleted(after_put):  # older than the deletion: change nothing
            raise HTTPError(409, "container deleted more recently", backend_headers(info))
        updates.update(policy_update(req.headers, info["metadata"], not was_deleted, timestamp))
        try:
            broker.merge_metadata(updates, self.validate_merged)
        except MetadataRejected as exc:
            raise HTTPError(400, str(exc)) from None
        broker.update_put_timestamp(timestamp)
        self._report(broker, account, container, nodes)
        return Response(status=201 if was_deleted else 202)

    def _put_object_row(self, req, broker: ContainerBroker, obj: str, timestamp: str):
        size = parse_int_header(req, "X-Size")
        content_type = req.headers.get("X-Content-Type")
        etag = req.headers.get("X-Etag")
        if content_type is None or etag is None:
            raise HTTPError(400, "object row needs X-Content-Type and X-Etag")
        if not broker.exists():
            raise HTTPError(404, "container not found")
        try:  # WSGI carries header bytes as latin-1; the listing shows UTF-8 text
            content_type = content_type.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise HTTPError(400, "X-Content-Type is not valid UTF-8") from None
        # An MD5, or one followed by a middleware's `; key=value` parameters (a symlink's
        # target): only the MD5 is case-folded.
        md5, sep, params = etag.strip().partition(";")
        row = {"name": obj, "created_at": timestamp, "size": size,
               "content_type": content_type, "etag": md5.strip().lower() + sep + params,
               "deleted": 0}
        self.committer.merge(broker, row)
        return Response(status=201)

    def HEAD(self, req: Request) -> Response:
        _, _, _, broker = self._target(req, allow_object=False)
        info = self._existing_info(broker)
        resp = Response(status=204)
        resp.headers.update(self._info_headers(info))
        resp.content_type = self.head_content_type(req)
        resp.charset = "utf-8"
        return resp

    def GET(self, req: Request) -> Response:
        _, container, _, broker = self._target(req, allow_object=False)
        params, content_type = self.listing_request(req, CONTAINER_LISTING_LIMIT)
        info = self._existing_info(broker)
        entries = broker.list_objects(params)
        body = render_container(entries, container, content_type)
        return listing_response(req, body, content_type, self._info_headers(info))

    def POST(self, req: Request) -> Response:
        timestamp = request_timestamp(req).normal
        _, _, _, broker = self._target(req, allow_object=False)
        updates = self.metadata_updates(req, timestamp)
        self._existing_info(broker)
        try:
            broker.merge_metadata(updates, self.validate_merged)
        except MetadataRejected as exc:
            raise HTTPError(400, str(exc)) from None
        return Response(status=204)

    def DELETE(self, req: Request) -> Response:
        timestamp = request_timestamp(req).normal
        account, container, obj, broker = self._target(req, allow_object=True)
        if obj is not None:
            if not broker.exists():
                raise HTTPError(404, "container not found")
            row = {"name": obj, "created_at": timestamp, "size": 0,
                   "content_type": "", "etag": "", "deleted": 1}
            self.committer.merge(broker, row)
            return Response(status=204)
        nodes = parse_account_nodes(req)
        info = self._existing_info(broker)
        if info["object_count"] > 0:
            raise HTTPError(409, "container not empty")
        if timestamp <= info["put_timestamp"]:
            raise HTTPError(409, "container created more recently", backend_headers(info))
        broker.mark_deleted(timestamp)
        self._report(broker, account, container, nodes)
        return Response(status=204)

    # ---- account reports -------------------------------------------------------------

    def _report(self, broker: ContainerBroker, account, container, nodes) -> bool:
        """Send the container's stats to each account replica; True when all took them."""
        if not nodes:
            return False
        info = broker.get_info()
        ok = report_to_account(
            nodes,
            account,
            container,
            info,
            self.conf["account_update_conn_timeout"],
            self.conf["account_update_timeout"],
            self.backend_auth,
        )
        if ok:
            broker.set_reported(
                info["put_timestamp"],
                info["delete_timestamp"],
                info["object_count"],
                info["bytes_used"],
            )
        return ok


def account_report_headers(info: dict) -> dict:
    """The container-row PUT an account server expects (also used by the container updater)."""
    return {
        "X-Put-Timestamp": info["put_timestamp"],
        "X-Delete-Timestamp": info["delete_timestamp"],
        "X-Object-Count": str(info["object_count"]),
        "X-Bytes-Used": str(info["bytes_used"]),
        "X-Timestamp": Timestamp.now().normal,
        POLICY_KEY: str(stored_policy(info["metadata"])),
    }


def report_to_account(nodes, account, container, info, conn_timeout, timeout, auth) -> bool:
    """PUT the stats to every (ip, port, device, partition), signed with `auth` (the cluster's
    `common.backend_auth.BackendAuth`); True when all answered 2xx."""

    headers = account_report_headers(info)

    def send(node) -> bool:
        ip, port, device, partition = node
        path = f"/{device}/{partition}/{account}/{container}"
        try:
            resp = backend_client.request(
                ip, port, "PUT", path, headers=headers, auth=auth,
                conn_timeout=conn_timeout, node_timeout=timeout, max_body=4096,
            )
        except HTTPClientError as exc:
            log.warning("account update %s failed: %s", path, exc)
            return False
        if not resp.ok:
            log.warning("account update %s:%s%s got %s", ip, port, path, resp.status)
        return resp.ok

    return all(at_once(send, nodes))


def make_app(conf_path: str) -> ContainerServer:
    return ContainerServer(conf_path)
