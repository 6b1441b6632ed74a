"""Telling container replicas about an object PUT/DELETE, or leaving an async pending.

The proxy names the container replicas in `X-Container-Host` (`ip:port[,ip:port...]`),
`X-Container-Device` (same count) and `X-Container-Partition`. For each, the object server
sends `PUT|DELETE /<dev>/<part>/<account>/<container>/<object>` with `X-Timestamp`, `X-Size`,
`X-Content-Type`, `X-Etag`, signed with the cluster's backend secret, bounded by a connect
timeout and a response timeout. Any failure (refused, timeout, non-2xx) leaves an
async-pending record for the object updater (`storage.objects.async_pending`); the client's request
never fails because of it. All replicas are tried concurrently (green threads) and the
caller waits for every attempt to finish, so the outcome is settled before the client gets
its answer. Connections to container servers are kept alive and reused (`IDLE_CONNECTIONS`).
"""
from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass
from urllib.parse import quote

from common.green import eventlet
from common.http_errors import HTTPError
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


class _IdleConnections:
    """Idle keep-alive connections to container servers, at most `max_idle` per address.

    Reusing them spares a TCP connect (and the container server an accept and a new green
    thread) per update. A connection is only ever used by one update at a time.
    """

    def __init__(self, max_idle: int = 16):
        self.max_idle = max_idle
        self._idle: dict[tuple[str, int], list[http.client.HTTPConnection]] = {}

    def take(self, ip: str, port: int) -> http.client.HTTPConnection | None:
        idle = self._idle.get((ip, port))
        return idle.pop() if idle else None

    def give_back(self, ip: str, port: int, conn: http.client.HTTPConnection) -> None:
        idle = self._idle.setdefault((ip, port), [])
        if len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.close()


IDLE_CONNECTIONS = _IdleConnections()

# What a kept-alive connection the container server has meanwhile closed looks like.
_STALE_ERRORS = (http.client.RemoteDisconnected, http.client.BadStatusLine,
                 ConnectionResetError, BrokenPipeError)


def send_update(node, op, account, container, obj, headers, conn_timeout, node_timeout,
                auth) -> bool:
    """One container update; True when the container answered 2xx.

    An idle keep-alive connection is reused when there is one; if the server had closed it
    in the meantime, the update is sent again once on a fresh connection (a row merge is
    idempotent).
    """
    ip, port = _split_host(node.host)
    plain_path = f"/{node.device}/{node.partition}/{account}/{container}/{obj}"
    path = quote(plain_path)
    headers = auth.signed(op, plain_path, headers)
    for _attempt in (0, 1):
        conn = IDLE_CONNECTIONS.take(ip, port)
        reused = conn is not None
        if conn is None:
            conn = http.client.HTTPConnection(ip, port, timeout=conn_timeout)
        keep = False
        try:
            if not reused:
                conn.connect()
            conn.sock.settimeout(node_timeout)
            conn.putrequest(op, path, skip_accept_encoding=True)
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.putheader("Content-Length", "0")
            conn.endheaders()
            resp = conn.getresponse()
            resp.read(65536)
            keep = resp.isclosed() and not resp.will_close
            if 200 <= resp.status < 300:
                return True
            log.warning("container update %s %s:%s got %s", op, node.host, path, resp.status)
            return False
        except _STALE_ERRORS as exc:
            if reused:
                continue  # the server closed the idle connection: once more, fresh
            log.warning("container update %s %s:%s failed: %s", op, node.host, path, exc)
            return False
        except (OSError, http.client.HTTPException) as exc:
            log.warning("container update %s %s:%s failed: %s", op, node.host, path, exc)
            return False
        finally:
            if keep:
                IDLE_CONNECTIONS.give_back(ip, port, conn)
            else:
                conn.close()
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

    if len(nodes) == 1:
        results = [attempt(nodes[0])]
    else:
        pool = eventlet.GreenPool(len(nodes))
        results = list(pool.imap(attempt, nodes))
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
