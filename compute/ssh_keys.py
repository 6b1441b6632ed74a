"""SSH public keys for `os-keypairs`: validation, fingerprints, generation (no IO).

An imported key is one OpenSSH public-key line, `<type> <base64 blob> [comment]`, whose blob
must decode and name the same type in its first field (as ssh-keygen checks it); anything
else is `BadKey`. The fingerprint is Nova's: the MD5 of the blob as colon-separated hex.
Generated keys are Ed25519 (`cryptography`): the public line is stored, the private key
(OpenSSH PEM) is returned to the caller once and kept nowhere.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct

KEY_TYPES = frozenset({
    "ssh-rsa", "ssh-ed25519", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})
MAX_KEY_TEXT = 16 * 1024
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class BadKey(ValueError):
    """Not a usable OpenSSH public key; the message says why."""


def parse_public_key(text) -> tuple[str, bytes, str]:
    """(type, blob, normalized one-line key) of an OpenSSH public key; BadKey otherwise."""
    if not isinstance(text, str):
        raise BadKey("public_key must be a string")
    if len(text) > MAX_KEY_TEXT:
        raise BadKey(f"public_key is longer than {MAX_KEY_TEXT} characters")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        raise BadKey("public_key must be exactly one OpenSSH key line")
    fields = lines[0].split(None, 2)
    if len(fields) < 2:
        raise BadKey("public_key must be '<type> <base64 key> [comment]'")
    key_type, encoded = fields[0], fields[1]
    if key_type not in KEY_TYPES:
        raise BadKey(f"key type {key_type[:40]!r} is not supported")
    if not _BASE64.match(encoded):
        raise BadKey("the key is not base64")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey("the key is not base64") from None
    if _blob_type(blob) != key_type:
        raise BadKey("the key's data does not match its type")
    comment = fields[2].strip() if len(fields) > 2 else ""
    if any(ord(ch) < 32 for ch in comment):
        raise BadKey("the key's comment contains control characters")
    normalized = f"{key_type} {encoded}" + (f" {comment}" if comment else "")
    return key_type, blob, normalized


def _blob_type(blob: bytes) -> str | None:
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length > 64 or len(blob) < 4 + length:
        return None
    try:
        return blob[4:4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


def fingerprint(blob: bytes) -> str:
    """Nova's fingerprint: MD5 of the key blob, `aa:bb:...`."""
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def generate(comment: str) -> tuple[str, str]:
    """(public key line, private key in OpenSSH PEM) of a new Ed25519 key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode("ascii")
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")
    safe_comment = "".join(ch for ch in comment if 32 < ord(ch) < 127)
    return (f"{public} {safe_comment}" if safe_comment else public), private_pem
