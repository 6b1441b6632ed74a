"""Daemon pieces without a cluster: recon records, the runner's CLI, pacing, auditing, expiry."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from common.timestamp import Timestamp
from storage.daemons.object_auditor import AuditFailure, audit_file
from storage.daemons.object_expirer import delete_timestamp, expired_delete_at, split_name
from storage.daemons.rate_limit import RateLimiter
from storage.daemons.runner import DAEMONS, load, pass_succeeded
from storage.objects.metadata import INLINE_LIMIT, write_metadata_fd
from storage.recon import default_recon_dir, pass_record, recon_response, write_record

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "etc", "storage-daemons.conf")


def test_recon_records_and_views(tmp_path):
    devices = tmp_path / "srv" / "node1"
    (devices / "d1" / "async_pending" / "abc").mkdir(parents=True)
    (devices / "d1" / "async_pending" / "abc" / "x-1").write_bytes(b"")
    (devices / "d1" / "quarantined" / "objects" / "h1").mkdir(parents=True)
    recon_dir = default_recon_dir(str(devices))
    assert recon_dir == str(tmp_path / "srv" / "recon" / "node1")
    record = pass_record("object-replicator", 100.0, 103.5, {"failures": 0})
    write_record(recon_dir, "object-replicator", record)
    status, value = recon_response("/recon/object-replicator", str(devices), str(tmp_path))
    assert status == 200 and value["duration"] == 3.5 and value["age"] > 0
    assert recon_response("/recon/async", str(devices), "")[1]["async_pending"] == 1
    assert recon_response("/recon/quarantined", str(devices), "")[1]["objects"] == 1
    assert recon_response("/recon/ringmd5", str(devices), str(tmp_path))[1] == {
        "account.ring.gz": None, "container.ring.gz": None, "object.ring.gz": None}
    everything = recon_response("/recon/all", str(devices), str(tmp_path))[1]
    assert everything["daemons"]["object-replicator"]["status"] == "ok"
    assert everything["daemons"]["object-auditor"] is None
    assert recon_response("/recon/../../etc", str(devices), "")[0] == 404


def test_sample_config_loads_every_daemon():
    node, daemons = load(SAMPLE)
    assert set(daemons) == set(DAEMONS)
    assert node.reclaim_age == 7 * 24 * 3600
    assert daemons["object-auditor"][1]["bytes_per_second"] == 10_000_000


@pytest.mark.parametrize("text,message", [
    ("[daemons]\nbogus = 1\n", "unknown option 'bogus'"),
    ("[daemons]\n[object-replicator]\nconcurrency = many\n", "bad value for 'concurrency'"),
    ("[daemons]\n[nosuch-daemon]\n", "unknown section [nosuch-daemon]"),
    ("[other]\n", "missing section [daemons]"),
])
def test_bad_config_is_one_line_exit_2(tmp_path, text, message):
    conf = tmp_path / "d.conf"
    conf.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "storage.daemons.runner", str(conf), "--once", "object-updater"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_once_runs_a_pass_and_records_it(tmp_path):
    devices = tmp_path / "node"
    (devices / "d1").mkdir(parents=True)
    conf = tmp_path / "d.conf"
    conf.write_text(f"[daemons]\ndevices = {devices}\nconf_dir = {tmp_path}\n")
    result = subprocess.run(
        [sys.executable, "-m", "storage.daemons.runner", str(conf), "--once", "db-auditor"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["counts"] == {"databases": 0, "quarantined": 0, "failures": 0}
    with open(tmp_path / "recon" / "node" / "db-auditor.json") as handle:
        assert json.load(handle)["daemon"] == "db-auditor"
    assert pass_succeeded(record)
    assert not pass_succeeded({**record, "counts": {"failures": 2}})


def test_rate_limiter_paces_to_the_rate():
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(100, clock=lambda: clock[0], sleep=sleep)
    for _ in range(50):
        limiter.consume(10)  # 500 units at 100/s: about 4 s beyond the 1 s burst
    assert 3.5 <= clock[0] <= 4.5
    assert RateLimiter(0).consume(10**9) == 0.0


def object_file(path, body: bytes, metadata: dict | None = None) -> str:
    meta = {"X-Timestamp": os.path.basename(path)[:16], "Content-Length": str(len(body)),
            "ETag": hashlib.md5(body).hexdigest(), **(metadata or {})}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, body)
        write_metadata_fd(fd, meta, len(body))
    finally:
        os.close(fd)
    return path


def test_audit_file_checks(tmp_path):
    name = Timestamp.now().normal
    good = object_file(str(tmp_path / f"{name}.data"), b"payload" * 1000)
    assert audit_file(good) == 7000
    big_meta = {"X-Object-Meta-Big": "v" * (INLINE_LIMIT + 10)}  # metadata in a trailer
    (tmp_path / "t").mkdir()
    trailer = object_file(str(tmp_path / "t" / f"{name}.data"), b"abc" * 100, big_meta)
    assert audit_file(trailer) == 300
    with open(good, "r+b") as handle:
        handle.seek(10)
        handle.write(b"X")
    with pytest.raises(AuditFailure, match="MD5"):
        audit_file(good)
    with open(trailer, "ab") as handle:
        handle.write(b"extra")
    with pytest.raises(AuditFailure, match="size"):
        audit_file(trailer)
    (tmp_path / "w").mkdir()
    wrong = object_file(str(tmp_path / "w" / f"{name}.data"), b"x", {"X-Timestamp": "1.0"})
    with pytest.raises(AuditFailure, match="X-Timestamp"):
        audit_file(wrong)
    (tmp_path / "n").mkdir()
    bare = tmp_path / "n" / f"{name}.data"
    bare.write_bytes(b"no metadata")
    with pytest.raises(AuditFailure, match="metadata"):
        audit_file(str(bare))


def test_expiry_helpers():
    assert expired_delete_at({"X-Delete-At": "100"}, now=200) == 100
    assert expired_delete_at({"X-Delete-At": "300"}, now=200) is None
    assert expired_delete_at({"X-Delete-At": "soon"}, now=200) is None
    assert expired_delete_at({}, now=200) is None
    assert delete_timestamp(500, Timestamp(100)) == Timestamp(500)
    assert delete_timestamp(100, Timestamp(500)) == Timestamp("0000000500.00001")
    assert split_name("/AUTH_a/c/dir/o") == ("AUTH_a", "c", "dir/o")
    assert split_name("nope") is None


def test_db_auditor_quarantines_a_broken_database(tmp_path):
    from storage.daemons.db_auditor import integrity_problem, quarantine_database
    from storage.databases.broker import db_path
    from storage.databases.container_db import ContainerBroker

    digest = "b" * 32
    path = db_path(str(tmp_path), "d1", "containers", 7, digest)
    broker = ContainerBroker(path)
    broker.create("acc", "c", Timestamp.now())
    for index in range(200):
        broker.put_object(f"object-{index:04d}", Timestamp.now(), 1, "text/plain", "e" * 32)
    broker.close()
    assert integrity_problem(path) is None
    size = os.path.getsize(path)
    assert size > 3 * 4096
    with open(path, "r+b") as handle:  # scribble over every page but the first (the header)
        for offset in range(4096, size, 4096):
            handle.seek(offset)
            handle.write(b"\xff" * 64)
    assert integrity_problem(path) is not None
    target = quarantine_database(str(tmp_path), "d1", "containers", path)
    assert target == str(tmp_path / "d1" / "quarantined" / "containers" / digest)
    assert os.path.exists(os.path.join(target, digest + ".db"))
    assert not os.path.exists(path)
