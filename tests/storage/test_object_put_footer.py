"""PUTs whose MD5 and block CRCs the proxy sends as a footer (`storage.objects.put_footer`),
in process against the object server: accepted only when the CRCs match what arrived."""
from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.objects.metadata import BLOCK_SIZE
from storage.objects.put_footer import (
    FOOTER_HEADER,
    FooterError,
    body_length_of,
    footer_size,
    make_footer,
    split_footer,
)
from storage.objects.writer import BlockCrcs


def footer_of(body: bytes, md5_hex: str | None = None) -> bytes:
    crcs = BlockCrcs()
    crcs.update(body)
    return make_footer(md5_hex or hashlib.md5(body).hexdigest(), crcs.finish())


def put_with_footer(env, body: bytes, footer: bytes, headers: dict | None = None,
                    declared: int | None = None):
    return env.put(body=body + footer, headers={
        FOOTER_HEADER: str(len(body) if declared is None else declared), **(headers or {})})


def data_files(env):
    return [f for f in env.files() if f.endswith(".data")]


def test_footer_put_stores_the_body_with_the_footers_md5(object_env):
    body = os.urandom(3 * BLOCK_SIZE + 123)
    resp = put_with_footer(object_env, body, footer_of(body))
    assert resp.status_int == 201
    etag = hashlib.md5(body).hexdigest()
    assert resp.headers["ETag"] == etag
    got = object_env.request("/sda/1/a/c/o")
    assert got.body == body
    assert got.headers["ETag"] == etag
    assert got.headers["Content-Length"] == str(len(body))


def test_a_byte_changed_on_the_way_is_refused_and_nothing_stored(object_env):
    body = os.urandom(2 * BLOCK_SIZE)
    footer = footer_of(body)
    damaged = body[:BLOCK_SIZE + 7] + bytes([body[BLOCK_SIZE + 7] ^ 1]) + body[BLOCK_SIZE + 8:]
    resp = put_with_footer(object_env, damaged, footer)
    assert resp.status_int == 422
    assert b"block CRCs" in resp.body
    assert data_files(object_env) == []
    assert object_env.request("/sda/1/a/c/o").status_int == 404


def test_the_client_etag_is_checked_against_the_footers_md5(object_env):
    body = os.urandom(BLOCK_SIZE + 1)
    wrong = put_with_footer(object_env, body, footer_of(body),
                            {"ETag": hashlib.md5(b"other").hexdigest()})
    assert wrong.status_int == 422
    assert data_files(object_env) == []
    right = put_with_footer(object_env, body, footer_of(body),
                            {"ETag": hashlib.md5(body).hexdigest()})
    assert right.status_int == 201


@pytest.mark.parametrize("declared, why", [
    ("abc", "must be the body's length"),
    ("-1", "must be the body's length"),
    ("100", "Content-Length must be"),
])
def test_a_footer_header_that_does_not_fit_the_request_is_a_400(object_env, declared, why):
    body = b"x" * 10
    resp = object_env.put(body=body + footer_of(body), headers={FOOTER_HEADER: declared})
    assert resp.status_int == 400
    assert why.encode() in resp.body
    assert data_files(object_env) == []


def test_a_footer_without_an_md5_is_refused(object_env):
    body = b"y" * 100
    footer = footer_of(body)
    resp = put_with_footer(object_env, body, b"Z" * 32 + footer[32:])
    assert resp.status_int == 422
    assert data_files(object_env) == []


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=3 * BLOCK_SIZE // 1024).map(lambda b: b * 1024),
       flip=st.integers(min_value=0))
def test_footer_checks_any_body_and_catches_any_flipped_bit(body, flip):
    """Property: the footer of a body passes for that body and fails for a body with one
    bit flipped anywhere."""
    footer = footer_of(body)
    assert len(footer) == footer_size(len(body))
    assert body_length_of(str(len(body)), len(body) + len(footer)) == len(body)
    crcs = BlockCrcs()
    crcs.update(body)
    assert split_footer(footer, crcs.finish()) == hashlib.md5(body).hexdigest()
    if body:
        position = flip % (len(body) * 8)
        changed = bytearray(body)
        changed[position // 8] ^= 1 << (position % 8)
        crcs = BlockCrcs()
        crcs.update(bytes(changed))
        with pytest.raises(FooterError):
            split_footer(footer, crcs.finish())
