"""Telling container replicas about an object PUT/DELETE, or leaving an async pending.

The proxy names the container replicas in `X-Container-Host` (`ip:port[,ip:port...]`),
`X-Container-Device` (same count) and `X-Container-Partition`. For each, the object server
sends `PUT|DELETE /<dev>/<part>/<account>/<container>/<object>` with `X-Timestamp`, `X-Size`,
`X-Content-Type`, `X-Etag`, signed with the cluster's backend secret, bounded by a connect
timeout and a response timeout. Any failure (refused, timeout, non-2xx) leaves an
async-pending record for the object updater (`storage.objects.async_pending`); the client's request
never fails because of it. All replicas are tried concurrently (green threads) and the
caller waits for every attempt to finish, so the outcome is settled before the client gets
its answer. Requests go through `storage.backend_client` (signed, keep-alive per container
server).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from common.fan_out import at_once
from common.http_client import HTTPClientError
from common.http_errors import HTTPError
from storage import backend_client
from storage.backend_common import is_ascii_digits
from storage.objects.async_pending import write_async_pending

log = logging.getLogger("brume.object-server")


@dataclass(frozen=True)
class ContainerNode:
    host: str  # ip:port
    device: str
    partition: str

    def as_record(self) -> dict:
        return {"host": self.host, "device": self.device, "partition": self.partition}


def container_nodes_from_headers(headers) -> list[ContainerNode]:
    """Parse the X-Container-* headers; [] when absent, HTTPError(400) when inconsistent."""
    hosts = headers.get("X-Container-Host")
    if not hosts:
        return []
    devices = headers.get("X-Container-Device", "")
    partition = headers.get("X-Container-Partition", "").strip()
    host_list = [h.strip() for h in hosts.split(",") if h.strip()]
    device_list = [d.strip() for d in devices.split(",") if d.strip()]
    if len(host_list) != len(device_list) or not is_ascii_digits(partition):
        raise HTTPError(400, "X-Container-Host/-Device/-Partition do not match")
    for host in host_list:
        _split_host(host)
    return [ContainerNode(h, d, partition) for h, d in zip(host_list, device_list, strict=True)]


def _split_host(host: str) -> tuple[str, int]:
    ip, sep, port = host.rpartition(":")
    if not sep or not is_ascii_digits(port) or not ip:
        raise HTTPError(400, f"bad X-Container-Host: {host[:64]!r}")
    return ip.strip("[]"), int(port)


def send_update(node, op, account, container, obj, headers, conn_timeout, node_timeout,
                auth) -> bool:
    """One container update; True when the container answered 2xx.

    Sent through `storage.backend_client`'s keep-alive pool: an idle connection is reused when
    there is one, and if the server had closed it meanwhile the update is sent again once on
    a fresh connection (a row merge is idempotent).
    """
    ip, port = _split_host(node.host)
    path = f"/{node.device}/{node.partition}/{account}/{container}/{obj}"
    try:
        resp = backend_client.request(ip, port, op, path, headers, auth=auth,
                                      conn_timeout=conn_timeout, node_timeout=node_timeout,
                                      max_body=65536)
    except HTTPClientError as exc:
        log.warning("container update %s %s:%s failed: %s", op, node.host, path, exc)
        return False
    if resp.ok:
        return True
    log.warning("container update %s %s:%s got %s", op, node.host, path, resp.status)
    return False


def update_containers(
    nodes, op, account, container, obj, headers, *, device_path, hash_, timestamp,
    conn_timeout, node_timeout, auth,
) -> int:
    """Update every node; write an async pending for each failure. Returns the failure count."""
    if not nodes:
        return 0

    def attempt(node):
        return node, send_update(
            node, op, account, container, obj, headers, conn_timeout, node_timeout, auth
        )

    results = at_once(attempt, nodes)
    failures = 0
    for node, ok in results:
        if ok:
            continue
        failures += 1
        record = {
            "op": op,
            "account": account,
            "container": container,
            "obj": obj,
            "headers": dict(headers),
            "container_node": node.as_record(),
        }
        try:
            write_async_pending(device_path, hash_, timestamp, record)
        except OSError:
            log.exception("cannot write async pending for /%s/%s/%s", account, container, obj)
    return failures
