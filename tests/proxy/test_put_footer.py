"""The proxy's streamed PUTs carry the body's MD5 and block CRCs as a footer
(`storage.objects.put_footer`): run against real object servers on loopback."""
from __future__ import annotations

import hashlib
import io
import os

import pytest

from common.green import eventlet
from common.wsgi_server import runner_layers
from proxy.backend_client import BackendClient
from proxy.put_fanout import PutJob, put_object
from storage.objects.put_footer import FOOTER_HEADER, footer_size
from storage.objects.server import make_app
from tests.storage.conftest import write_object_conf


class RecordingNode:
    """One object server on loopback; keeps the head of every request it serves."""

    def __init__(self, tmp_path):
        _conf_dir, self.devices, conf_path = write_object_conf(tmp_path)
        self.app = make_app(conf_path)
        self.heads: list[dict] = []
        served = runner_layers(self.app)

        def recording(environ, start_response):
            self.heads.append({key: value for key, value in environ.items()
                               if key.startswith("HTTP_") or key == "CONTENT_LENGTH"})
            return served(environ, start_response)

        self.sock = eventlet.listen(("127.0.0.1", 0))
        self.node = {"ip": "127.0.0.1", "port": self.sock.getsockname()[1], "device": "sda"}
        self.thread = eventlet.spawn(eventlet.wsgi.server, self.sock, recording, log_output=False)

    def stop(self):
        self.thread.kill()
        self.sock.close()


@pytest.fixture
def nodes(tmp_path):
    made = []
    for index in range(3):
        (tmp_path / f"n{index}").mkdir()
        made.append(RecordingNode(tmp_path / f"n{index}"))
    yield made
    for node in made:
        node.stop()


def job_for(nodes, timestamp: str = "1700000000.00000", **headers) -> PutJob:
    client = BackendClient(0.5, 5.0, error_limit=10, error_interval=60.0,
                           auth=nodes[0].app.backend_auth)
    return PutJob(client=client, node_iter=iter([n.node for n in nodes]), part=1,
                  path="/a/c/o", replicas=3, quorum=2, chunk_size=65536, queue_depth=4,
                  max_size=1 << 30, headers_for_slot=lambda slot: {
                      "X-Timestamp": timestamp, "Content-Type": "text/plain", **headers})


def test_a_streamed_put_sends_its_md5_once_in_a_footer(nodes):
    body = os.urandom(3 * 1024 * 1024 + 5)
    answers, size = put_object(job_for(nodes), io.BytesIO(body).read, len(body))
    assert size == len(body)
    etag = hashlib.md5(body).hexdigest()
    assert [(a.status, a.headers.get("etag")) for a in answers] == [(201, etag)] * 3
    for node in nodes:
        head = node.heads[-1]
        assert head["HTTP_" + FOOTER_HEADER.upper().replace("-", "_")] == str(len(body))
        assert head["CONTENT_LENGTH"] == str(len(body) + footer_size(len(body)))
        stored = [os.path.join(root, name) for root, _d, names in os.walk(node.devices)
                  for name in names if name.endswith(".data")]
        assert len(stored) == 1
        with open(stored[0], "rb") as data:
            assert data.read(len(body)) == body


def test_bodies_of_one_chunk_and_chunked_bodies_go_without_a_footer(nodes):
    small = b"s" * 1000
    answers, _size = put_object(job_for(nodes), io.BytesIO(small).read, len(small))
    assert {a.status for a in answers} == {201}
    chunked = os.urandom(200_000)
    job = job_for(nodes, "1700000001.00000", **{"Transfer-Encoding": "chunked"})
    answers, size = put_object(job, io.BytesIO(chunked).read, None)
    assert size == len(chunked)
    assert {a.headers.get("etag") for a in answers} == {hashlib.md5(chunked).hexdigest()}
    key = "HTTP_" + FOOTER_HEADER.upper().replace("-", "_")
    assert all(key not in head for node in nodes for head in node.heads)


def test_a_client_etag_that_does_not_match_is_refused_by_every_node(nodes):
    body = os.urandom(300_000)
    job = job_for(nodes)
    wrong = hashlib.md5(b"not the body").hexdigest()
    job.headers_for_slot = lambda slot: {"X-Timestamp": "1700000000.00000", "ETag": wrong}
    answers, _size = put_object(job, io.BytesIO(body).read, len(body))
    assert [a.status for a in answers] == [422] * 3
