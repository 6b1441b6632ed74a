"""Object versioning's pure parts: version names and the `?versions` listing merge."""
from __future__ import annotations

from urllib.parse import quote

from proxy.middleware.version_listing import plain_rows, render, versions_rows
from proxy.middleware.version_names import (
    DELETE_MARKER_CONTENT_TYPE,
    check_version_id,
    parse_enabled,
    parse_pointer_etag,
    pointer_listing_etag,
    split_version_object,
    version_object,
)

V1, V2, V3 = "1700000001.00000", "1700000002.00000", "1700000003.00000"


def test_version_ids_are_timestamps_and_nothing_else():
    assert check_version_id(V1) is not None
    for bad in ("null", "bad", "1700000001", "1700000001.0000x", "-700000001.00000", ""):
        assert check_version_id(bad) is None


def test_newer_versions_of_an_object_sort_first_and_names_round_trip():
    names = [version_object("obj", v) for v in (V1, V2, V3)]
    assert sorted(names) == names[::-1]
    assert [split_version_object(n) for n in names] == [("obj", V1), ("obj", V2), ("obj", V3)]
    # Versions of "a" sort before those of "a-b" and "a/b", as the names themselves do.
    assert version_object("a", V1) < version_object("a-b", V3) < version_object("a/b", V3)
    assert split_version_object("plain-name") is None


def test_pointer_etag_carries_id_and_size():
    value = pointer_listing_etag("abc", V2, 42)
    assert parse_pointer_etag(value) == ("abc", V2, 42)
    assert parse_pointer_etag("abc") == ("abc", None, None)


def test_enabled_values():
    assert parse_enabled("True") is True and parse_enabled("off") is False
    assert parse_enabled("maybe") is None


def row(name, etag="e", size=1, content_type="text/plain", modified="2026-01-01T00:00:00"):
    return {"name": name, "hash": etag, "bytes": size, "content_type": content_type,
            "last_modified": modified}


def version_row(obj, version_id, **kwargs):
    return row(version_object(obj, version_id), **kwargs)


def test_plain_rows_show_a_pointer_as_its_version():
    rows = [row("a", pointer_listing_etag("real", V1, 7), 0), row("b", "plain", 3),
            {"subdir": "c/"}]
    pointer = dict(row("a", "real", 7), version_symlink=True,
                   symlink_path=f"/v1/AUTH_t/%01versions%01c/{quote(version_object('a', V1))}")
    assert list(plain_rows(rows, "AUTH_t", "c")) == [pointer, row("b", "plain", 3),
                                                     {"subdir": "c/"}]


def listed(rows):
    return [(r["name"], r["version_id"], r["is_latest"]) for r in rows]


def test_versions_listing_merges_pointers_null_objects_and_markers():
    main = [row("a", pointer_listing_etag("x", V2, 1), 0),
            row("b", "plain", 2, modified="2026-01-01T00:00:00")]
    hidden = [version_row("a", V2), version_row("a", V1),
              version_row("c", V3, content_type=DELETE_MARKER_CONTENT_TYPE),
              version_row("c", V1)]
    rows = list(versions_rows(main, hidden, 100))
    assert listed(rows) == [("a", V2, True), ("a", V1, False), ("b", "null", True),
                            ("c", V3, True), ("c", V1, False)]
    assert set(rows[0]) == {"name", "bytes", "content_type", "hash", "last_modified",
                            "version_id", "is_latest"}
    assert listed(versions_rows(main, hidden, 2)) == listed(rows)[:2]


def test_reverse_listing_is_the_whole_order_reversed():
    main = [row("b", "plain", 2)]
    hidden = [version_row("c", V1, content_type=DELETE_MARKER_CONTENT_TYPE),
              version_row("a", V1), version_row("a", V2)]
    rows = listed(versions_rows(main, hidden, 100, reverse=True,
                                newest_version=lambda name: V1))
    assert rows == [("c", V1, True), ("b", "null", True), ("a", V1, False),
                    ("a", V2, False)]


def test_a_marker_older_than_the_newest_version_is_not_latest():
    hidden = [version_row("a", V3), version_row("a", V2,
                                                  content_type=DELETE_MARKER_CONTENT_TYPE)]
    assert listed(versions_rows([], hidden, 10)) == [("a", V3, False), ("a", V2, False)]


def test_render_formats():
    rows = [{"name": "a&b", "bytes": 1, "is_latest": True}, {"subdir": "d/"}]
    assert render(rows, "plain", "c")[0] == b"a&b\nd/\n"
    xml, content_type = render(rows, "xml", "c")
    assert b"<name>a&amp;b</name>" in xml and b"<is_latest>true</is_latest>" in xml
    assert content_type.startswith("application/xml")
    assert render(rows, "json", "c")[1].startswith("application/json")
