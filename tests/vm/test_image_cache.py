"""Image cache: verified downloads, one download per image under concurrency, safe cleanup."""
import hashlib
import os
import threading

import pytest

from compute.image_cache import ImageCache, ImageFetchError

DATA = os.urandom(3 * 1024 * 1024 + 17)
META = {"id": "img-1", "size": len(DATA), "checksum": hashlib.md5(DATA).hexdigest()}


class Origin:
    """Serves DATA in chunks, counting how often a download starts."""

    def __init__(self, data=DATA, gate=None):
        self.data, self.gate, self.opened = data, gate, 0

    def __call__(self, meta):
        self.opened += 1
        if self.gate:
            self.gate.wait(5)
        for start in range(0, len(self.data), 65536):
            yield self.data[start : start + 65536]


def test_fetch_verifies_and_caches_once(tmp_path):
    origin = Origin()
    cache = ImageCache(str(tmp_path), origin)
    path = cache.fetch(META)
    assert open(path, "rb").read() == DATA
    assert cache.fetch(META) == path
    assert origin.opened == 1
    assert cache.download_counts() == {"img-1": 1}


def test_concurrent_fetches_download_once(tmp_path):
    gate = threading.Event()
    origin = Origin(gate=gate)
    cache = ImageCache(str(tmp_path), origin)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.fetch(META))) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert len(set(results)) == 1 and len(results) == 4
    assert origin.opened == 1


@pytest.mark.parametrize(
    "data, fragment",
    [(DATA[:-1] + bytes([DATA[-1] ^ 0xFF]), "checksum mismatch"),
     (DATA[:-5], "size mismatch"), (DATA + b"extra", "size mismatch")],
    ids=["checksum", "short", "long"],
)
def test_bad_bytes_fail_and_leave_nothing(tmp_path, data, fragment):
    cache = ImageCache(str(tmp_path), Origin(data))
    with pytest.raises(ImageFetchError, match=fragment):
        cache.fetch(META)
    assert cache.cached_ids() == []
    assert [n for n in os.listdir(tmp_path) if n != "downloads.json"] == []


def test_stream_errors_become_fetch_errors(tmp_path):
    def broken(meta):
        yield DATA[:1000]
        raise ConnectionResetError("cut")

    cache = ImageCache(str(tmp_path), broken)
    with pytest.raises(ImageFetchError, match="download failed"):
        cache.fetch(META)
    assert cache.cached_ids() == []


def test_cleanup_spares_in_use_and_recent(tmp_path):
    cache = ImageCache(str(tmp_path), Origin())
    path = cache.fetch(META)
    other = dict(META, id="img-2")
    cache.fetch(other)
    old = os.stat(path).st_mtime - 10_000
    os.utime(path, (old, old))
    os.utime(cache.path_for("img-2"), (old, old))
    assert cache.remove_unused({"img-2"}, max_age=3600) == ["img-1"]
    assert cache.cached_ids() == ["img-2"]
    assert cache.remove_unused(set(), max_age=1e9) == []


def test_discard_removes_one_base_at_once(tmp_path):
    origin = Origin()
    cache = ImageCache(str(tmp_path), origin)
    cache.fetch(META)
    cache.fetch(dict(META, id="img-2"))
    assert cache.discard("img-1") is True
    assert cache.cached_ids() == ["img-2"]
    assert cache.discard("img-1") is False
    cache.fetch(META)  # downloaded again on next use
    assert origin.opened == 3
