"""Container -> account stats reports, sent to real account servers listening on loopback."""
from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from storage.databases import account_server, container_server
from storage.databases.container_db import ContainerBroker
from tests.integration.support import free_port
from tests.storage.test_container_server import Client, write_confs


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class ThreadedServer:
    """A real account server app on a loopback port, served from a thread."""

    def __init__(self, app, ip="127.0.0.1"):
        self.server: WSGIServer = make_server(ip, 0, app, handler_class=QuietHandler)
        self.ip, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def one_at_a_time(app):
    """Both servers below serve one app (one database, one cached SQLite connection). A real
    server runs green threads that never interleave inside a transaction; these OS threads
    must take turns instead."""
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return serialized


@pytest.fixture
def env(tmp_path):
    account_dir = tmp_path / "acct"
    account_dir.mkdir()
    account_conf, _ = write_confs(account_dir, "account")
    account_app = account_server.make_app(account_conf)
    shared = one_at_a_time(account_app)
    servers = [ThreadedServer(shared), ThreadedServer(shared, "127.0.0.2")]
    container_conf, _ = write_confs(
        tmp_path, "container", "account_update_conn_timeout = 0.5\naccount_update_timeout = 2\n"
    )
    containers = Client(container_server.make_app(container_conf))
    accounts = Client(account_app)
    yield containers, accounts, servers
    for server in servers:
        server.stop()


def account_headers(servers, device="sda", partition="1"):
    return {
        "X-Account-Host": ",".join(f"{s.ip}:{s.port}" for s in servers),
        "X-Account-Device": ",".join(device for _ in servers),
        "X-Account-Partition": partition,
    }


def container_info(containers: Client, path="/sda/1/AUTH_a/c") -> dict:
    app = containers.app
    _, _, account, container = path.strip("/").split("/")
    db = app.db_path_for_hash("sda", 1, app.hasher.hash_path(account, container))
    return ContainerBroker(db).get_info()


def test_put_and_delete_are_reported_to_every_account_replica(env):
    containers, accounts, servers = env
    resp = containers.put_container(**account_headers(servers))
    assert resp.status_int == 201
    head = accounts("HEAD", "/sda/1/AUTH_a")
    assert head.status_int == 204
    assert head.headers["X-Account-Container-Count"] == "1"
    info = container_info(containers)
    assert not ContainerBroker.report_due(info)
    assert info["reported_put_timestamp"] == info["put_timestamp"]

    containers.put_object("o", size=42)
    assert ContainerBroker.report_due(container_info(containers))  # left for the updater
    containers("DELETE", "/sda/1/AUTH_a/c/o", {"X-Timestamp": containers.ts()})
    resp = containers("DELETE", "/sda/1/AUTH_a/c",
                      {"X-Timestamp": containers.ts(), **account_headers(servers)})
    assert resp.status_int == 204
    head = accounts("HEAD", "/sda/1/AUTH_a")
    assert head.headers["X-Account-Container-Count"] == "0"
    assert accounts("GET", "/sda/1/AUTH_a").status_int == 204
    assert not ContainerBroker.report_due(container_info(containers))


def test_unreachable_account_never_fails_the_client(env):
    containers, accounts, servers = env
    dead = {"X-Account-Host": f"127.0.0.1:{free_port()}", "X-Account-Device": "sda",
            "X-Account-Partition": "1"}
    assert containers.put_container(**dead).status_int == 201
    info = container_info(containers)
    assert ContainerBroker.report_due(info)
    assert info["reported_put_timestamp"] == "0000000000.00000"
    # one good and one dead replica: still not marked reported
    mixed = account_headers(servers[:1])
    mixed["X-Account-Host"] += "," + dead["X-Account-Host"]
    mixed["X-Account-Device"] += ",sda"
    assert containers.put_container(**mixed).status_int == 202
    assert ContainerBroker.report_due(container_info(containers))
    assert accounts("HEAD", "/sda/1/AUTH_a").headers["X-Account-Container-Count"] == "1"


def test_account_answering_507_is_a_failed_report(env):
    containers, _, servers = env
    headers = account_headers(servers[:1], device="nodisk")
    assert containers.put_container(**headers).status_int == 201
    assert ContainerBroker.report_due(container_info(containers))
