"""Swift's own functional test suite, run against a Brume cluster: where it is, how it runs,
and what its summary says.

The suite and its runner come from the Swift reference peer kept beside this checkout
(`../shared/peer/`, or `$BRUME_SWIFT_PEER`): `functests.sh HOST PORT SUMMARY` runs
test/functional of the Swift sdist in the peer's venv (set up by `install.sh --dev`) and
writes a summary file listing the failed and errored test ids. `parse_summary` reads that
file; `compare` checks a run against the expected-failures list kept in this directory,
which may only shrink: a failure not on it is a regression, a listed test that passes must
come off the list.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
EXPECTED_FILE = os.path.join(HERE, "swift_functests_expected.txt")
COUNTS = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped, (\d+) errors")


def peer_dir() -> str | None:
    """The Swift reference peer's scripts directory, or None where this machine has none."""
    candidates = [os.environ.get("BRUME_SWIFT_PEER", ""),
                  os.path.join(os.path.dirname(REPO_ROOT), "shared", "peer"),
                  "/work/shared/peer"]
    for path in candidates:
        if path and os.path.isfile(os.path.join(path, "functests.sh")):
            return path
    return None


@dataclass
class SuiteRun:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    failing: set[str] = field(default_factory=set)  # failed or errored test ids


def parse_summary(text: str) -> SuiteRun:
    """A functests.sh summary file -> its counts and failing test ids."""
    run = SuiteRun()
    section = None
    for line in text.splitlines():
        match = COUNTS.match(line)
        if match:
            run.passed, run.failed, run.skipped, run.errors = map(int, match.groups())
        elif line.startswith(("failing tests", "errored tests")):
            section = "failing"
        elif line.startswith("skip reasons"):
            section = None
        elif section and line.startswith("  test/"):
            run.failing.add(line.strip())
    return run


@dataclass
class Expected:
    min_passed: int
    failing: set[str]


def parse_expected(text: str) -> Expected:
    """`min_passed N` plus one expected-failing test id per line; `#` starts a comment."""
    min_passed, failing = 0, set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("min_passed "):
            min_passed = int(line.split()[1])
        else:
            failing.add(line)
    return Expected(min_passed, failing)


def compare(run: SuiteRun, expected: Expected) -> list[str]:
    """What is wrong with `run` against `expected` (empty: all good)."""
    problems = []
    new = sorted(run.failing - expected.failing)
    if new:
        problems.append(f"{len(new)} test(s) fail that passed before:\n  " + "\n  ".join(new))
    fixed = sorted(expected.failing - run.failing)
    if fixed:
        problems.append(f"{len(fixed)} expected failure(s) now pass: take them off "
                        f"{os.path.basename(EXPECTED_FILE)}:\n  " + "\n  ".join(fixed))
    if run.passed < expected.min_passed:
        problems.append(f"only {run.passed} tests passed, expected at least "
                        f"{expected.min_passed} (a feature no longer advertised in /info "
                        "makes its tests skip)")
    return problems
