"""Swift's own functional test suite against a fresh Brume cluster (issue 11's spec).

The run fails on any failed or errored test that is not on the expected-failures list
(`swift_functests_expected.txt`), on a listed test that now passes (the list only shrinks)
and on fewer passes than the list's floor. It needs the Swift reference peer beside the
checkout (`install.sh --dev` sets up its venv); a machine without it fails here, it does not
skip. The cluster is the suite's own (the suite deletes every container of its accounts).
"""
from __future__ import annotations

import collections
import os
import subprocess
from urllib.parse import urlsplit

import pytest

from tests.conformance import swift_suite

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def functest_cluster(tmp_path_factory):
    from tests.conftest import start_cluster, stop_cluster

    handle = start_cluster(str(tmp_path_factory.mktemp("functest-cluster")))
    try:
        yield handle
    finally:
        stop_cluster(handle)


def per_module(run: swift_suite.SuiteRun) -> str:
    failing = collections.Counter(t.split("::")[0] for t in run.failing)
    return ", ".join(f"{m.rsplit('/', 1)[-1]} {n}" for m, n in sorted(failing.items()))


def test_swift_functional_suite(functest_cluster, tmp_path):
    peer = swift_suite.peer_dir()
    assert peer, ("Swift's reference peer (../shared/peer or $BRUME_SWIFT_PEER) is missing: "
                  "it holds the functional suite this test runs")
    proxy = urlsplit(functest_cluster.proxy_url)
    host, port = proxy.hostname, proxy.port
    summary = tmp_path / "summary.txt"
    env = dict(os.environ, FT_IGNORE_S3="1", FT_USER6="admin", FT_ARTIFACTS=str(tmp_path),
               FT_STORAGE_DOMAIN="example.com")  # domain_remap's storage_domain in etc/
    result = subprocess.run(
        ["bash", os.path.join(peer, "functests.sh"), host, str(port), str(summary)],
        env=env, capture_output=True, text=True, timeout=2100)
    assert summary.exists(), f"functests.sh wrote no summary:\n{result.stdout}\n{result.stderr}"
    text = summary.read_text()
    print(text)
    run = swift_suite.parse_summary(text)
    assert run.passed + run.failed + run.errors > 0, text
    with open(swift_suite.EXPECTED_FILE) as expected_file:
        expected = swift_suite.parse_expected(expected_file.read())
    problems = swift_suite.compare(run, expected)
    assert not problems, "\n".join(problems) + "\nfailing per module: " + per_module(run)
