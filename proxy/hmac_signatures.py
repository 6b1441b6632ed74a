"""HMAC signatures of temporary URLs and form POSTs: which digest, how encoded, do they match.

A client signs a message with a secret key it set as account or container metadata and
sends the signature either as hex (its length says the digest: 40 sha1, 64 sha256, 128
sha512) or as `<digest>:<base64>` (standard or URL-safe alphabet, padding optional).
`decode_signature` turns that text into (digest name, raw bytes) or None when it is not a
well-formed signature of an allowed digest; `matching_key` recomputes the HMAC for each
candidate key and compares in constant time. Pure functions: no IO, no clock.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
# As Swift: SHA-1 still accepted by default (HMAC-SHA1 is not broken); drop it with the option.
DEFAULT_ALLOWED_DIGESTS = ("sha1", "sha256", "sha512")
MAX_SIGNATURE_LENGTH = 1024


def parse_allowed_digests(text: str) -> tuple[str, ...]:
    """The `allowed_digests` option -> digest names; ValueError on an unknown or none."""
    names = tuple(dict.fromkeys(text.split()))
    unknown = [name for name in names if name not in DIGESTS]
    if unknown:
        raise ValueError(f"unknown digest {unknown[0]!r} (known: {', '.join(sorted(DIGESTS))})")
    if not names:
        raise ValueError("at least one digest is needed")
    return names


def decode_signature(text: str, allowed: tuple[str, ...]) -> tuple[str, bytes] | None:
    """(digest name, raw signature bytes), or None when malformed or not allowed."""
    if not text or len(text) > MAX_SIGNATURE_LENGTH:
        return None
    name, colon, encoded = text.partition(":")
    if colon:
        if name not in allowed:
            return None
        raw = _decode_base64(encoded)
        if raw is None or len(raw) != DIGESTS[name]().digest_size:
            return None
        return name, raw
    name = HEX_LENGTHS.get(len(text))
    if name is None or name not in allowed:
        return None
    try:
        return name, bytes.fromhex(text)
    except ValueError:
        return None


def _decode_base64(text: str) -> bytes | None:
    if not text or not text.isascii():
        return None
    standard = text.replace("-", "+").replace("_", "/").rstrip("=")
    padded = standard + "=" * (-len(standard) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        return None


def sign(key: bytes, message: bytes, digest: str) -> bytes:
    """The raw HMAC of `message` under `key` with `digest`."""
    return hmac.new(key, message, DIGESTS[digest]).digest()


def matching_key(keys, message: bytes, digest: str, signature: bytes):
    """The first of `keys` ((key bytes, scope) pairs) whose HMAC equals `signature`, or None.

    Every key is tried (no early exit on a match), each comparison in constant time.
    """
    found = None
    for key, scope in keys:
        if hmac.compare_digest(sign(key, message, digest), signature) and found is None:
            found = (key, scope)
    return found
