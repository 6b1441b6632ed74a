"""The ring-builder command, run as a real subprocess."""
import fcntl
import hashlib
import json
import os
import subprocess
import sys

import pytest

from ring.builder import RingBuilder


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "ring.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def ok(*args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def file_digest(path):
    with open(path, "rb") as handle:
        return hashlib.md5(handle.read()).hexdigest()


def assert_one_line_error(result, fragment):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


@pytest.fixture
def builder_file(tmp_path):
    """The same builder test_full_workflow makes through the CLI, made in-process (fast)."""
    path = str(tmp_path / "object.builder")
    builder = RingBuilder(8, 3, 1)
    for zone in range(1, 5):
        builder.add_dev(1, zone, f"127.0.0.{zone}", 6200, "sdb", 100)
    builder.add_dev(1, 1, "127.0.0.1", 6201, "sdc", 50)
    builder.save(path)
    return path


def test_full_workflow(tmp_path):
    builder_file = str(tmp_path / "object.builder")
    ok(builder_file, "create", "8", "3", "1")
    for zone in range(1, 5):
        ok(builder_file, "add", f"r1z{zone}-127.0.0.{zone}:6200/sdb", "100")
    ok(builder_file, "add", "--region", "1", "--zone", "1", "--ip", "127.0.0.1", "--port",
       "6201", "--device", "sdc", "--weight", "50")
    out = ok(builder_file, "rebalance", "--seed", "3")
    assert "reassigned 768 of 768" in out
    shown = ok(builder_file)
    assert "256 partitions, 3 replicas" in shown and "sdc" in shown and "Dispersion:" in shown
    state = json.loads(ok(builder_file, "show", "--json"))
    assert state["part_power"] == 8 and state["replicas"] == 3 and state["min_part_hours"] == 1
    assert [d["device"] for d in state["devices"]] == ["sdb"] * 4 + ["sdc"]
    assert {"id", "region", "zone", "ip", "port", "device", "weight", "parts", "balance"} <= set(
        state["devices"][0])
    assert len(state["replica2part2dev"]) == 3
    assert all(len(row) == 256 for row in state["replica2part2dev"])
    assert sum(d["parts"] for d in state["devices"]) == 768
    assert json.loads(ok(builder_file, "validate", "--json")) == {"ok": True, "problems": []}
    assert "ok" in ok(builder_file, "validate")
    dispersion = json.loads(ok(builder_file, "dispersion", "--json"))
    assert dispersion["badly_dispersed"] == 0 and dispersion["sharing"]["zone"] == 0
    assert "badly dispersed" in ok(builder_file, "dispersion")
    assert "object.ring.gz" in ok(builder_file, "write_ring")
    assert os.path.exists(tmp_path / "object.ring.gz")
    assert os.listdir(tmp_path / "backups")


def _rebalanced(builder_file):
    builder = RingBuilder.load(builder_file)
    builder.rebalance()
    builder.save(builder_file)


def test_remove_set_weight_and_pretend(builder_file):
    _rebalanced(builder_file)
    ok(builder_file, "set_weight", "d4", "100")
    ok(builder_file, "remove", "r1z2-127.0.0.2:6200/sdb")
    ok(builder_file, "pretend_min_part_hours_passed")
    ok(builder_file, "rebalance")
    state = json.loads(ok(builder_file, "show", "--json"))
    assert [d["id"] for d in state["devices"]] == [0, 2, 3, 4]
    assert state["devices"][-1]["weight"] == 100
    assert all(1 not in row for row in state["replica2part2dev"])


def test_same_seed_same_ring(builder_file, tmp_path):
    digests = []
    for name in ("a", "b"):
        path = str(tmp_path / f"{name}.builder")
        with open(builder_file, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        ok(path, "rebalance", "--seed", "11")
        digests.append(json.dumps(json.loads(ok(path, "show", "--json"))["replica2part2dev"]))
    assert digests[0] == digests[1]


# every error: one line on stderr, non-zero exit, file untouched
@pytest.mark.parametrize("args,fragment", [
    (("remove", "d99"), "unknown device"),
    (("set_weight", "r9z9", "10"), "unknown device"),
    (("remove", "zz"), "bad search value"),
    (("set_weight", "@@", "10"), "bad search value"),
    (("set_weight", "d0", "heavy"), "weight must be a number"),
    (("add", "r1z1-127.0.0.1:6200/sdb", "100"), "already exists"),
    (("add", "nonsense", "100"), "bad device spec"),
    (("add", "--region", "1"), "required"),
    (("create", "8", "3", "1"), "already exists"),
    (("frobnicate",), "unknown command"),
    (("write_ring",), "never been rebalanced"),
    (("validate",), "never been rebalanced"),
])
def test_errors_change_nothing(builder_file, args, fragment):
    before = file_digest(builder_file)
    assert_one_line_error(run(builder_file, *args), fragment)
    assert file_digest(builder_file) == before


def test_impossible_rebalance_and_replicas_over_devices(tmp_path):
    path = str(tmp_path / "c.builder")
    ok(path, "create", "6", "3", "1")
    before = file_digest(path)
    assert_one_line_error(run(path, "rebalance"), "impossible rebalance: no devices")
    ok(path, "add", "r1z1-127.0.0.1:6200/a", "100", "r1z1-127.0.0.1:6200/b", "100")
    before = file_digest(path)
    assert_one_line_error(run(path, "rebalance"), "3 replicas need at least 3 devices")
    assert file_digest(path) == before
    ok(path, "add", "r1z1-127.0.0.1:6200/c", "0")
    assert_one_line_error(run(path, "rebalance"), "impossible rebalance")


@pytest.mark.parametrize("power", ["0", "25", "-3", "x"])
def test_part_power_out_of_range(tmp_path, power):
    path = str(tmp_path / "p.builder")
    result = run(path, "create", power, "3", "1")
    assert_one_line_error(result, "part_power")
    assert not os.path.exists(path)


def test_replicas_must_be_positive(tmp_path):
    assert_one_line_error(run(str(tmp_path / "r.builder"), "create", "8", "0", "1"), "replicas")


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x1f\x8b\x08\x00broken"])
def test_corrupt_or_foreign_file(tmp_path, content):
    path = tmp_path / "bad.builder"
    path.write_bytes(content)
    for args in ((), ("add", "r1z1-127.0.0.1:1/a", "1")):
        assert_one_line_error(run(str(path), *args), "bad.builder")
    assert path.read_bytes() == content


def test_ring_file_is_not_a_builder(builder_file, tmp_path):
    _rebalanced(builder_file)
    ok(builder_file, "write_ring")
    assert_one_line_error(run(str(tmp_path / "object.ring.gz")), "not a ring builder file")


def test_missing_file_and_usage(tmp_path):
    assert_one_line_error(run(str(tmp_path / "none.builder")), "no such builder file")
    assert run().returncode == 2
    assert "usage" in run("--help").stdout


def test_builder_written_by_cli_loads_in_python(builder_file):
    ok(builder_file, "rebalance", "--json")
    builder = RingBuilder.load(builder_file)
    assert builder.validate() == []


def test_concurrent_change_is_refused(builder_file):
    directory, name = os.path.split(builder_file)
    fd = os.open(os.path.join(directory, f".{name}.lock"), os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        before = file_digest(builder_file)
        assert_one_line_error(run(builder_file, "set_weight", "d0", "5"), "another ring-builder")
        assert file_digest(builder_file) == before
        assert "Dispersion" in ok(builder_file)  # reading still works
    finally:
        os.close(fd)
