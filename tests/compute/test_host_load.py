"""The hypervisor load the agents report and Nova's uptime text (no IO but /proc)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compute.host_load import checked_load, read_host_load, uptime_text


def test_this_hosts_load_is_read():
    load = read_host_load()
    assert load["uptime_seconds"] > 0
    assert len(load["load_average"]) == 3 and all(v >= 0 for v in load["load_average"])
    assert checked_load(load) == (load["uptime_seconds"], load["load_average"])


def test_uptime_text_like_uptime_1():
    assert uptime_text(59, [0, 0, 0], 3600) == (
        " 01:00:00 up 0 min,  0 users,  load average: 0.00, 0.00, 0.00")
    assert uptime_text(86400 + 60, [1.5, 2, 12.345], 0).endswith(
        "up 1 day, 1 min,  0 users,  load average: 1.50, 2.00, 12.35")
    assert uptime_text(None, [1, 1, 1], 0) is None
    assert uptime_text(10, None, 0) is None


@settings(deadline=None)  # a loaded CI machine
@given(st.dictionaries(st.sampled_from(["uptime_seconds", "load_average"]),
                       st.one_of(st.none(), st.booleans(), st.floats(), st.text(),
                                 st.lists(st.one_of(st.floats(), st.integers(), st.text()),
                                          max_size=4))))
def test_any_report_gives_a_clean_load_or_none(report):
    uptime, load = checked_load(report)
    assert uptime is None or uptime >= 0
    assert load is None or (len(load) == 3 and all(v >= 0 for v in load))
    text = uptime_text(uptime, load, 0)
    assert text is None or "load average:" in text
