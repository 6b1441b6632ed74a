"""Pure tests of listing rendering: format negotiation, dates, JSON/XML/plain shapes."""
from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.timestamp import Timestamp
from storage.databases.listing import Subdir
from storage.databases.listing_format import (
    JSON_TYPE,
    PLAIN_TYPE,
    TEXT_XML_TYPE,
    XML_TYPE,
    choose_content_type,
    isoformat,
    render_account,
    render_container,
)

DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@pytest.mark.parametrize(
    "fmt,accept,expected",
    [
        ("json", "text/plain", JSON_TYPE),
        ("XML", None, XML_TYPE),
        ("plain", "application/json", PLAIN_TYPE),
        ("bogus", None, PLAIN_TYPE),
        (None, None, PLAIN_TYPE),
        (None, "*/*", PLAIN_TYPE),
        (None, "application/json", JSON_TYPE),
        (None, "text/xml", TEXT_XML_TYPE),
        (None, "application/*", JSON_TYPE),
        (None, "text/plain;q=0.5, application/xml", XML_TYPE),
        (None, "application/json;q=0, text/plain", PLAIN_TYPE),
        (None, "image/png", None),
    ],
)
def test_choose_content_type(fmt, accept, expected):
    assert choose_content_type(fmt, accept) == expected


@given(st.integers(min_value=0, max_value=9_999_999_999 * 100_000))
def test_isoformat_is_exact(ticks):
    stamp = Timestamp(ticks / 100_000)
    expected = (
        datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=stamp.ticks * 10)
    ).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert isoformat(stamp.normal) == expected == isoformat(stamp)


ROW = ("caf\u00e9 & <b>", "1400000000.12345", 7, "text/plain", "abc")


def test_container_json_shape():
    body = render_container([ROW, Subdir("d/")], "c", JSON_TYPE)
    assert json.loads(body) == [
        {"name": ROW[0], "hash": "abc", "bytes": 7, "content_type": "text/plain",
         "last_modified": "2014-05-13T16:53:20.123450"},
        {"subdir": "d/"},
    ]
    assert body.isascii()


def test_container_xml_shape():
    body = render_container([ROW, Subdir("d/")], "c\"1", XML_TYPE)
    assert body == DECL + (
        '<container name="c&quot;1"><object><name>caf\u00e9 &amp; &lt;b&gt;</name>'
        "<hash>abc</hash><bytes>7</bytes><content_type>text/plain</content_type>"
        "<last_modified>2014-05-13T16:53:20.123450</last_modified></object>"
        '<subdir name="d/"><name>d/</name></subdir></container>'
    ).encode("utf-8")


def test_account_shapes():
    rows = [("c1", "1400000000.00000", 3, 30), Subdir("x-")]
    assert json.loads(render_account(rows, "AUTH_a", JSON_TYPE)) == [
        {"name": "c1", "count": 3, "bytes": 30, "last_modified": "2014-05-13T16:53:20.000000",
         "storage_policy": "default"},
        {"subdir": "x-"},
    ]
    assert render_account(rows, "AUTH_a", TEXT_XML_TYPE) == DECL + (
        b'<account name="AUTH_a">\n<container><name>c1</name><count>3</count>'
        b"<bytes>30</bytes><last_modified>2014-05-13T16:53:20.000000</last_modified>"
        b"<storage_policy>default</storage_policy>"
        b'</container>\n<subdir name="x-" />\n</account>'
    )
    assert render_account(rows, "AUTH_a", PLAIN_TYPE) == b"c1\nx-\n"
    assert render_account([], "AUTH_a", PLAIN_TYPE) == b""


def test_an_slo_etag_in_a_row_is_listed_apart_from_the_manifest_hash():
    rows = [("big", "0000000001.00000", 1010, "video/mp4", "abc; slo_etag=def"),
            ("plain", "0000000001.00000", 3, "text/plain", "123")]
    listed = json.loads(render_container(rows, "c", "application/json"))
    assert (listed[0]["hash"], listed[0]["slo_etag"], listed[0]["bytes"]) == \
        ("abc", '"def"', 1010)
    assert listed[1]["hash"] == "123" and "slo_etag" not in listed[1]
