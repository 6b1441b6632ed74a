"""Pure tests of the listing logic: parameters, pagination and delimiters against a naive model."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.databases.listing import (
    ListingError,
    ListingParams,
    Subdir,
    list_entries,
    parse_listing_params,
    prefix_successor,
    sorted_list_fetch,
)


def rows_of(names):
    return [(name, "0000000001.00000") for name in sorted(set(names))]


def names_of(entries):
    return [e.name if isinstance(e, Subdir) else e[0] for e in entries]


def naive_listing(names, params: ListingParams):
    """Filter everything, map each name to its subdir or itself, dedupe, cut at limit."""
    selected = sorted(set(names), reverse=params.reverse)
    out = []
    for name in selected:
        if not name.startswith(params.prefix):
            continue
        if params.reverse:
            if params.marker and name >= params.marker:
                continue
            if params.end_marker and name <= params.end_marker:
                continue
        else:
            if params.marker and name <= params.marker:
                continue
            if params.end_marker and name >= params.end_marker:
                continue
        entry = name
        if params.delimiter:
            found = name.find(params.delimiter, len(params.prefix))
            if found >= 0:
                entry = "SUBDIR:" + name[: found + len(params.delimiter)]
                if entry[7:] == params.marker or (out and out[-1] == entry):
                    continue
        out.append(entry)
    return out[: params.limit]


def as_model(entries):
    return ["SUBDIR:" + e.name if isinstance(e, Subdir) else e[0] for e in entries]


NAMES = ["a", "a/b", "a/c/d", "a/c/e", "ab", "b/x", "b/y", "c", "c/", "d-1", "d-2"]


def test_plain_forward_and_reverse():
    fetch = sorted_list_fetch(rows_of(NAMES))
    assert names_of(list_entries(ListingParams(limit=3), fetch)) == ["a", "a/b", "a/c/d"]
    reverse = list_entries(ListingParams(limit=2, reverse=True), fetch)
    assert names_of(reverse) == ["d-2", "d-1"]


def test_delimiter_groups_into_subdirs_and_skips_marker_subdir():
    fetch = sorted_list_fetch(rows_of(NAMES))
    entries = list_entries(ListingParams(limit=100, delimiter="/"), fetch)
    assert names_of(entries) == ["a", "a/", "ab", "b/", "c", "c/", "d-1", "d-2"]
    assert isinstance(entries[1], Subdir) and not isinstance(entries[0], Subdir)
    after_marker = list_entries(ListingParams(limit=100, delimiter="/", marker="a/"), fetch)
    assert names_of(after_marker)[:2] == ["ab", "b/"]


def test_prefix_with_delimiter_and_multichar_delimiter():
    fetch = sorted_list_fetch(rows_of(NAMES))
    assert names_of(list_entries(ListingParams(limit=10, prefix="a/", delimiter="/"), fetch)) == [
        "a/b",
        "a/c/",
    ]
    assert names_of(list_entries(ListingParams(limit=10, delimiter="-"), fetch))[-1] == "d-"


def test_end_marker_and_reverse_markers():
    fetch = sorted_list_fetch(rows_of(NAMES))
    assert names_of(list_entries(ListingParams(limit=10, marker="a", end_marker="b"), fetch)) == [
        "a/b",
        "a/c/d",
        "a/c/e",
        "ab",
    ]
    params = ListingParams(limit=10, marker="c", end_marker="ab", reverse=True)
    reverse = list_entries(params, fetch)
    assert names_of(reverse) == ["b/y", "b/x"]


def test_subdir_skip_does_not_lose_name_equal_to_successor():
    # "a0" is exactly the successor of "a/": it must still be listed after the subdir.
    fetch = sorted_list_fetch(rows_of(["a/x", "a/y", "a0", "a1"]))
    assert names_of(list_entries(ListingParams(limit=10, delimiter="/"), fetch)) == [
        "a/",
        "a0",
        "a1",
    ]


def test_fetch_called_once_per_subdir_not_per_name():
    rows = rows_of([f"dir{i}/obj{j}" for i in range(5) for j in range(200)])
    calls = []
    inner = sorted_list_fetch(rows)

    def counting(*args):
        calls.append(args)
        return inner(*args)

    entries = list_entries(ListingParams(limit=100, delimiter="/"), counting)
    assert names_of(entries) == [f"dir{i}/" for i in range(5)]
    assert len(calls) == 6


def test_prefix_successor():
    assert prefix_successor("a/") == "a0"
    assert prefix_successor("") is None
    assert prefix_successor("b" + chr(0x10FFFF)) == "c"
    assert prefix_successor(chr(0xD7FF)) == chr(0xE000)


@pytest.mark.parametrize(
    "query,status",
    [({"limit": "10001"}, 412), ({"prefix": "a\x00"}, 400), ({"prefix": "\udcff"}, 400),
     ({"path": "a\x00"}, 400)],
)
def test_bad_parameters(query, status):
    with pytest.raises(ListingError) as caught:
        parse_listing_params(query, 10000)
    assert caught.value.status == status


def test_parameters_parse():
    params = parse_listing_params(
        {"limit": "5", "marker": "m", "end_marker": "z", "prefix": "p", "delimiter": "/",
         "reverse": "on"},
        10000,
    )
    assert params == ListingParams(5, "m", "z", "p", "/", True)
    assert parse_listing_params({}, 10000).limit == 10000


NAME_ALPHABET = st.sampled_from(["a", "b", "/", "-", "é", "\U0001f600"])
NAME = st.text(NAME_ALPHABET, min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    names=st.lists(NAME, max_size=40),
    prefix=st.text(NAME_ALPHABET, max_size=2),
    delimiter=st.sampled_from(["", "/", "-", "a/"]),
    marker=st.text(NAME_ALPHABET, max_size=3),
    end_marker=st.text(NAME_ALPHABET, max_size=3),
    reverse=st.booleans(),
    limit=st.integers(min_value=0, max_value=12),
)
def test_matches_naive_model(names, prefix, delimiter, marker, end_marker, reverse, limit):
    params = ListingParams(limit, marker, end_marker, prefix, delimiter, reverse)
    got = as_model(list_entries(params, sorted_list_fetch(rows_of(names))))
    assert got == naive_listing(names, params)


@settings(max_examples=100, deadline=None)
@given(
    names=st.lists(NAME, max_size=40),
    delimiter=st.sampled_from(["", "/"]),
    prefix=st.text(NAME_ALPHABET, max_size=1),
    reverse=st.booleans(),
    page=st.integers(min_value=1, max_value=5),
)
def test_marker_pagination_returns_every_entry_once_in_order(
    names, delimiter, prefix, reverse, page
):
    fetch = sorted_list_fetch(rows_of(names))
    everything = names_of(
        list_entries(ListingParams(10000, prefix=prefix, delimiter=delimiter, reverse=reverse),
                     fetch)
    )
    paged, marker = [], ""
    while True:
        entries = list_entries(
            ListingParams(page, marker, "", prefix, delimiter, reverse), fetch
        )
        if not entries:
            break
        paged.extend(names_of(entries))
        marker = paged[-1]
    assert paged == everything
    assert len(set(paged)) == len(paged)
    assert paged == sorted(paged, reverse=reverse)
    if not delimiter:
        expected = sorted({n for n in names if n.startswith(prefix)}, reverse=reverse)
        assert paged == expected


@pytest.mark.parametrize("limit", ["x", "-1", "5000.0", ""])
def test_a_limit_that_is_not_a_number_is_ignored(limit):
    assert parse_listing_params({"limit": limit}, 10000).limit == 10000


def test_markers_may_hold_a_nul():
    """`marker=name%00` pages from just after `name` (Swift's functional suite uses it)."""
    fetch = sorted_list_fetch(rows_of(["a", "b", "b1", "c"]))
    params = parse_listing_params({"marker": "b\x00", "end_marker": "a", "reverse": "on"},
                                  10000)
    assert names_of(list_entries(params, fetch)) == ["b"]


PATH_NAMES = ["/file1", "/dir1/", "/dir1/f", "file1", "dir1/", "dir1/file2", "dir1/sub/",
              "dir1/sub/f", "dir1/sub/deeper/g", "dir1/nomarker/f", "dir2/"]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "path,expected",
    [("", ["dir1/", "dir2/", "file1"]),
     ("/", ["/dir1/", "/file1"]),
     ("dir1", ["dir1/file2", "dir1/sub/"]),
     ("dir1/", ["dir1/file2", "dir1/sub/"]),
     ("dir1/sub", ["dir1/sub/f"]),
     ("nothing", [])],
)
def test_path_lists_only_what_is_directly_under_it(path, expected, reverse):
    """`path=P`: rows directly under P/ (directory marker rows included), never deeper
    names nor subdirs that have no marker row."""
    fetch = sorted_list_fetch(rows_of(PATH_NAMES))
    params = parse_listing_params({"path": path, "reverse": "on" if reverse else ""}, 10000)
    got = list_entries(params, fetch)
    assert not any(isinstance(entry, Subdir) for entry in got)
    assert names_of(got) == (expected[::-1] if reverse else expected)
