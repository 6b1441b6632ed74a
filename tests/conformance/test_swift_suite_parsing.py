"""The functional-suite summary parser and the expected-failures ratchet, without a cluster."""
from __future__ import annotations

from tests.conformance import swift_suite

SUMMARY = """target: http://127.0.0.1:8080/auth/v1.0
suite: swift 2.38.3 sdist test/functional (pytest)
started: 2026-12-04T17:36:40Z  duration_s: 78  pytest_rc: 1
3 passed, 1 failed, 5 skipped, 1 errors (total 10)
/info features: brume dlo slo tempauth

failing tests (1):
  test/functional/tests.py::TestAccount::testInvalidPath

errored tests (1):
  test/functional/test_slo.py::TestSlo::test_slo_copy

skip reasons (count, message):
      5  Symlinks not enabled
"""


def test_summary_counts_and_ids():
    run = swift_suite.parse_summary(SUMMARY)
    assert (run.passed, run.failed, run.skipped, run.errors) == (3, 1, 5, 1)
    assert run.failing == {"test/functional/tests.py::TestAccount::testInvalidPath",
                           "test/functional/test_slo.py::TestSlo::test_slo_copy"}


def test_expected_file_parses_with_comments():
    expected = swift_suite.parse_expected(
        "# header\nmin_passed 3\n\ntest/functional/a.py::T::t  # why\n")
    assert expected.min_passed == 3
    assert expected.failing == {"test/functional/a.py::T::t"}


def test_compare_flags_new_failures_fixed_ones_and_lost_passes():
    run = swift_suite.parse_summary(SUMMARY)
    same = swift_suite.Expected(3, set(run.failing))
    assert swift_suite.compare(run, same) == []
    only_one = {"test/functional/tests.py::TestAccount::testInvalidPath"}
    new_failure = swift_suite.Expected(3, only_one)
    assert "fail that passed before" in swift_suite.compare(run, new_failure)[0]
    fixed = swift_suite.Expected(3, run.failing | {"test/functional/x.py::T::t"})
    assert "now pass" in swift_suite.compare(run, fixed)[0]
    fewer = swift_suite.Expected(4, set(run.failing))
    assert "only 3 tests passed" in swift_suite.compare(run, fewer)[0]


def test_the_checked_in_list_parses():
    with open(swift_suite.EXPECTED_FILE) as handle:
        expected = swift_suite.parse_expected(handle.read())
    assert expected.min_passed > 0
    assert all(t.startswith("test/functional/") for t in expected.failing)
