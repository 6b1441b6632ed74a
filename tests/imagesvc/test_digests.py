"""StreamDigests: the same digests inline and with native-thread offloading."""
from __future__ import annotations

import hashlib
import os

import pytest

from imagesvc.digests import StreamDigests


@pytest.mark.parametrize("offload", [False, True])
def test_digests_match_hashlib(offload):
    data = os.urandom(3 * 1024 * 1024 + 999)
    digests = StreamDigests(offload=offload)
    for start in range(0, len(data), 65536 - 7):
        digests.update(data[start : start + 65536 - 7])
    assert digests.md5_hex == hashlib.md5(data).hexdigest()
    assert digests.sha512_hex == hashlib.sha512(data).hexdigest()
    assert digests.size == len(data)
    assert digests.tail == data[-512:]


def test_tail_of_small_chunks():
    digests = StreamDigests(offload=False)
    for byte in range(600):
        digests.update(bytes([byte % 256]))
    assert digests.tail == bytes(b % 256 for b in range(88, 600))
