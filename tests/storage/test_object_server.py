"""Object server PUT/GET/HEAD/POST/DELETE behaviour, in process against make_app."""
from __future__ import annotations

import hashlib
import io
import os
import time

from webob import Request

from common.timestamp import Timestamp


def ts(offset: float = 0.0) -> Timestamp:
    return Timestamp(time.time() + offset)


def data_files(env):
    return [f for f in env.files() if f.endswith((".data", ".ts", ".meta"))]


def test_put_then_get_and_head(object_env):
    body = b"x" * 100_000
    stamp = ts()
    resp = object_env.put(body=body, timestamp=stamp, headers={
        "Content-Type": "image/png", "X-Object-Meta-Color": "blue",
        "X-Object-Sysmeta-Slo": "yes", "Content-Disposition": "inline",
        "Content-Encoding": "gzip", "X-Object-Manifest": "c/seg",
        "X-Static-Large-Object": "True", "X-Not-Stored": "nope",
    })
    assert resp.status_int == 201
    etag = hashlib.md5(body).hexdigest()
    assert resp.headers["ETag"] == etag
    got = object_env.request("/sda/1/a/c/o")
    assert got.status_int == 200
    assert got.body == body
    for resp in (got, object_env.request("/sda/1/a/c/o", "HEAD")):
        h = resp.headers
        assert h["Content-Length"] == str(len(body))
        assert h["Content-Type"] == "image/png"
        assert h["ETag"] == etag
        assert h["X-Timestamp"] == stamp.normal
        assert h["X-Backend-Timestamp"] == stamp.normal
        assert h["X-Object-Meta-Color"] == "blue"
        assert h["X-Object-Sysmeta-Slo"] == "yes"
        assert h["Content-Disposition"] == "inline"
        assert h["Content-Encoding"] == "gzip"
        assert h["X-Object-Manifest"] == "c/seg"
        assert h["X-Static-Large-Object"] == "True"
        assert "X-Not-Stored" not in h
        assert "Last-Modified" in h
    files = data_files(object_env)
    assert len(files) == 1
    assert files[0].startswith("objects/1/")
    assert files[0].endswith(f"/{stamp.normal}.data")


def test_layout_matches_the_hasher(object_env):
    from ring.hashing import load_hasher

    stamp = ts()
    assert object_env.put("/sda/7/acc/cont/some/obj", timestamp=stamp).status_int == 201
    hash_ = load_hasher(object_env.conf_dir).hash_path("acc", "cont", "some/obj")
    path = os.path.join(object_env.devices, "sda", "objects", "7", hash_[-3:], hash_,
                        f"{stamp.normal}.data")
    assert os.path.isfile(path)
    with open(os.path.join(object_env.devices, "sda", "objects", "7", "hashes.invalid")) as f:
        assert hash_[-3:] in f.read().split()


def test_get_missing_is_404(object_env):
    resp = object_env.request("/sda/1/a/c/nothing")
    assert resp.status_int == 404
    assert "X-Backend-Timestamp" not in resp.headers


def test_newer_put_replaces_and_cleans_older(object_env):
    assert object_env.put(body=b"one", timestamp=ts(-10)).status_int == 201
    assert object_env.put(body=b"two", timestamp=ts()).status_int == 201
    assert object_env.request("/sda/1/a/c/o").body == b"two"
    assert len(data_files(object_env)) == 1


def test_older_or_equal_put_is_409_and_changes_nothing(object_env):
    newer = ts()
    assert object_env.put(body=b"new", timestamp=newer).status_int == 201
    before = object_env.files()
    for stamp in (Timestamp(newer.seconds - 5), newer):
        resp = object_env.put(body=b"old", timestamp=stamp)
        assert resp.status_int == 409
        assert resp.headers["X-Backend-Timestamp"] == newer.normal
    assert object_env.request("/sda/1/a/c/o").body == b"new"
    assert [f for f in object_env.files() if not f.endswith(".lock")] == [
        f for f in before if not f.endswith(".lock")]
    assert os.listdir(os.path.join(object_env.devices, "sda", "tmp")) == []


def test_etag_mismatch_is_422_and_leaves_nothing(object_env):
    resp = object_env.put(body=b"data", headers={"ETag": hashlib.md5(b"other").hexdigest()})
    assert resp.status_int == 422
    assert data_files(object_env) == []
    assert os.listdir(os.path.join(object_env.devices, "sda", "tmp")) == []
    assert object_env.request("/sda/1/a/c/o").status_int == 404


def test_matching_quoted_etag_is_accepted(object_env):
    etag = hashlib.md5(b"data").hexdigest()
    resp = object_env.put(body=b"data", headers={"ETag": f'"{etag}"'})
    assert resp.status_int == 201


def test_short_body_is_499_and_leaves_nothing(object_env):
    req = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts().normal, "Content-Type": "text/plain"})
    req.environ["wsgi.input"] = io.BytesIO(b"only ten b")
    req.environ["CONTENT_LENGTH"] = "100"
    resp = object_env.send(req)
    assert resp.status_int == 499
    assert data_files(object_env) == []
    assert os.listdir(os.path.join(object_env.devices, "sda", "tmp")) == []


def test_chunked_put_without_length(object_env):
    req = Request.blank("/sda/1/a/c/o", method="PUT", headers={
        "X-Timestamp": ts().normal, "Transfer-Encoding": "chunked"})
    req.environ["wsgi.input"] = io.BytesIO(b"z" * 200_000)
    req.environ.pop("CONTENT_LENGTH", None)
    assert object_env.send(req).status_int == 201
    got = object_env.request("/sda/1/a/c/o")
    assert got.body == b"z" * 200_000
    assert got.headers["Content-Type"] == "application/octet-stream"


class _ShortReads(io.BytesIO):
    """A request body that hands out at most `most` bytes per read, like a socket."""

    def __init__(self, data: bytes, most: int):
        super().__init__(data)
        self.most = most

    def read(self, size=-1):
        return super().read(self.most if size is None or size < 0 else min(size, self.most))


def test_multi_mib_body_in_uneven_reads_is_stored_byte_for_byte(object_env):
    body = os.urandom(3 * 1024 * 1024 + 12345)
    for most, chunked in ((99_991, False), (1_500_000, True)):
        headers = {"X-Timestamp": ts().normal, "ETag": hashlib.md5(body).hexdigest()}
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        req = Request.blank("/sda/1/a/c/o", method="PUT", headers=headers)
        req.environ["wsgi.input"] = _ShortReads(body, most)
        if chunked:
            req.environ.pop("CONTENT_LENGTH", None)
        else:
            req.environ["CONTENT_LENGTH"] = str(len(body))
        assert object_env.send(req).status_int == 201
        got = object_env.request("/sda/1/a/c/o")  # every block CRC-checked on the way out
        assert got.status_int == 200
        assert got.body == body


def test_missing_length_is_411(object_env):
    req = Request.blank("/sda/1/a/c/o", method="PUT", headers={"X-Timestamp": ts().normal})
    req.environ.pop("CONTENT_LENGTH", None)
    assert object_env.send(req).status_int == 411
    assert data_files(object_env) == []


def test_bad_and_missing_timestamps_are_400(object_env):
    for headers in ({}, {"X-Timestamp": "yesterday"}, {"X-Timestamp": "-1"},
                    {"X-Timestamp": "inf"}, {"X-Timestamp": "nan"}):
        for method in ("PUT", "POST", "DELETE"):
            req = Request.blank("/sda/1/a/c/o", method=method, headers=headers)
            if method == "PUT":
                req.body = b"abc"
            resp = object_env.send(req)
            assert resp.status_int == 400, (method, headers)
            assert b"X-Timestamp" in resp.body
    assert data_files(object_env) == []


def test_bad_paths_are_400(object_env):
    for path in ("/sda/1/a/c", "/sda/x/a/c/o", "/sda/1//c/o", "/sda/-1/a/c/o", "/../1/a/c/o",
                 "/sda/1/a/c/" + "o" * 1025, "/sda"):
        assert object_env.request(path).status_int == 400, path
        assert object_env.put(path).status_int == 400, path
    assert data_files(object_env) == []


def test_missing_or_non_dir_device_is_507(object_env):
    open(os.path.join(object_env.devices, "sdfile"), "w").close()
    for device in ("sdz", "sdfile"):
        path = f"/{device}/1/a/c/o"
        assert object_env.put(path).status_int == 507
        assert object_env.request(path).status_int == 507
        assert object_env.request(path, "HEAD").status_int == 507
        assert object_env.request(path, "DELETE",
                                  headers={"X-Timestamp": ts().normal}).status_int == 507
    assert not os.path.exists(os.path.join(object_env.devices, "sdz"))


def test_unknown_method_is_405(object_env):
    resp = object_env.request("/sda/1/a/c/o", "PATCH")
    assert resp.status_int == 405
    assert "PUT" in resp.headers["Allow"]


def test_metadata_constraints_are_400(object_env):
    too_many = {f"X-Object-Meta-K{i}": "v" for i in range(91)}
    too_long = {"X-Object-Meta-K": "v" * 257}
    for headers in (too_many, too_long):
        assert object_env.put(headers=headers).status_int == 400
    assert data_files(object_env) == []


def test_delete_writes_tombstone_and_404_after(object_env):
    put_ts, del_ts = ts(-5), ts()
    object_env.put(timestamp=put_ts)
    resp = object_env.request("/sda/1/a/c/o", "DELETE", headers={"X-Timestamp": del_ts.normal})
    assert resp.status_int == 204
    for method in ("GET", "HEAD"):
        resp = object_env.request("/sda/1/a/c/o", method)
        assert resp.status_int == 404
        assert resp.headers["X-Backend-Timestamp"] == del_ts.normal
    assert [f.rsplit("/", 1)[1] for f in data_files(object_env)] == [f"{del_ts.normal}.ts"]


def test_delete_of_nothing_is_404_but_writes_tombstone(object_env):
    stamp = ts()
    resp = object_env.request("/sda/1/a/c/o", "DELETE", headers={"X-Timestamp": stamp.normal})
    assert resp.status_int == 404
    assert [f.rsplit("/", 1)[1] for f in data_files(object_env)] == [f"{stamp.normal}.ts"]
    # an older PUT than the tombstone is refused
    assert object_env.put(timestamp=ts(-3)).status_int == 409


def test_old_delete_is_409(object_env):
    stamp = ts()
    object_env.put(timestamp=stamp)
    resp = object_env.request("/sda/1/a/c/o", "DELETE", headers={"X-Timestamp": ts(-3).normal})
    assert resp.status_int == 409
    assert resp.headers["X-Backend-Timestamp"] == stamp.normal
    assert object_env.request("/sda/1/a/c/o").status_int == 200


def test_put_after_delete_resurrects(object_env):
    object_env.put(timestamp=ts(-10))
    object_env.request("/sda/1/a/c/o", "DELETE", headers={"X-Timestamp": ts(-5).normal})
    assert object_env.put(body=b"back", timestamp=ts()).status_int == 201
    assert object_env.request("/sda/1/a/c/o").body == b"back"
    assert len(data_files(object_env)) == 1


def test_post_replaces_user_metadata(object_env):
    put_ts, post_ts = ts(-5), ts()
    object_env.put(timestamp=put_ts, headers={
        "X-Object-Meta-A": "1", "X-Object-Meta-B": "2", "X-Object-Sysmeta-Keep": "k",
        "Content-Type": "text/csv"})
    resp = object_env.request("/sda/1/a/c/o", "POST", headers={
        "X-Timestamp": post_ts.normal, "X-Object-Meta-C": "3", "Content-Type": "x/posted"})
    assert resp.status_int == 202
    head = object_env.request("/sda/1/a/c/o", "HEAD")
    assert head.headers["X-Object-Meta-C"] == "3"
    assert "X-Object-Meta-A" not in head.headers and "X-Object-Meta-B" not in head.headers
    assert head.headers["X-Object-Sysmeta-Keep"] == "k"
    assert head.headers["Content-Type"] == "x/posted"  # a POST may change it, as in Swift
    assert head.headers["X-Timestamp"] == post_ts.normal
    assert head.headers["X-Backend-Data-Timestamp"] == put_ts.normal
    assert object_env.request("/sda/1/a/c/o").body == b"hello"
    names = sorted(f.rsplit("/", 1)[1] for f in data_files(object_env))
    assert names == [f"{put_ts.normal}.data", f"{post_ts.normal}.meta"]
    # a second POST replaces the first .meta
    third = ts(1)
    object_env.request("/sda/1/a/c/o", "POST", headers={
        "X-Timestamp": third.normal, "X-Object-Meta-D": "4"})
    head = object_env.request("/sda/1/a/c/o", "HEAD")
    assert head.headers["X-Object-Meta-D"] == "4" and "X-Object-Meta-C" not in head.headers
    assert head.headers["Content-Type"] == "x/posted"  # kept by a POST that does not set one
    assert len(data_files(object_env)) == 2
    # a newer PUT drops the .meta
    object_env.put(timestamp=ts(2))
    assert len(data_files(object_env)) == 1
    assert "X-Object-Meta-D" not in object_env.request("/sda/1/a/c/o", "HEAD").headers


def test_post_conflicts_and_missing(object_env):
    assert object_env.request("/sda/1/a/c/o", "POST",
                              headers={"X-Timestamp": ts().normal}).status_int == 404
    stamp = ts()
    object_env.put(timestamp=stamp)
    resp = object_env.request("/sda/1/a/c/o", "POST", headers={"X-Timestamp": stamp.normal})
    assert resp.status_int == 409
    del_ts = ts(1)
    object_env.request("/sda/1/a/c/o", "DELETE", headers={"X-Timestamp": del_ts.normal})
    resp = object_env.request("/sda/1/a/c/o", "POST", headers={"X-Timestamp": ts(2).normal})
    assert resp.status_int == 404
    assert resp.headers["X-Backend-Timestamp"] == del_ts.normal


def test_x_delete_at_expiry(object_env):
    now = int(time.time())
    object_env.put(headers={"X-Delete-At": str(now + 100)}, timestamp=ts(-10))
    head = object_env.request("/sda/1/a/c/o", "HEAD")
    assert head.status_int == 200 and head.headers["X-Delete-At"] == str(now + 100)
    # the object goes away once X-Delete-At has passed: rewrite the .data's metadata in place
    # with a past value (as if time had moved on)
    from storage.objects.metadata import read_metadata, write_metadata_fd

    path = os.path.join(object_env.devices, "sda", data_files(object_env)[0])
    metadata = read_metadata(path)
    metadata["X-Delete-At"] = str(now - 1)
    fd = os.open(path, os.O_RDWR)
    try:
        write_metadata_fd(fd, metadata, int(metadata["Content-Length"]))
    finally:
        os.close(fd)
    for method in ("GET", "HEAD"):
        resp = object_env.request("/sda/1/a/c/o", method)
        assert resp.status_int == 404
        assert "X-Backend-Timestamp" in resp.headers
    assert object_env.request("/sda/1/a/c/o", "POST",
                              headers={"X-Timestamp": ts().normal}).status_int == 404
    # the expirer's DELETE with the matching X-If-Delete-At succeeds
    wrong = object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": ts().normal, "X-If-Delete-At": str(now + 5)})
    assert wrong.status_int == 412
    right = object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": ts(1).normal, "X-If-Delete-At": str(now - 1)})
    assert right.status_int == 204


def test_x_delete_at_in_the_past_or_invalid_is_400(object_env):
    for value in (str(int(time.time()) - 10), "soon"):
        assert object_env.put(headers={"X-Delete-At": value}).status_int == 400
    assert data_files(object_env) == []


def test_post_can_set_and_clear_delete_at(object_env):
    object_env.put(timestamp=ts(-10))
    later = str(int(time.time()) + 1000)
    object_env.request("/sda/1/a/c/o", "POST", headers={
        "X-Timestamp": ts(-5).normal, "X-Delete-At": later})
    assert object_env.request("/sda/1/a/c/o", "HEAD").headers["X-Delete-At"] == later
    object_env.request("/sda/1/a/c/o", "POST", headers={"X-Timestamp": ts().normal})
    assert "X-Delete-At" not in object_env.request("/sda/1/a/c/o", "HEAD").headers


def test_if_delete_at_on_missing_object_is_412(object_env):
    resp = object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": ts().normal, "X-If-Delete-At": "12345"})
    assert resp.status_int == 412
    assert data_files(object_env) == []


def test_put_if_none_match_star(object_env):
    assert object_env.put(headers={"If-None-Match": "*"}, timestamp=ts(-5)).status_int == 201
    assert object_env.put(headers={"If-None-Match": "*"}).status_int == 412


def test_max_metadata_round_trip(object_env):
    """90 items, 4096 bytes in all: more than ext4 keeps in xattrs, stored in a trailer."""
    meta = {f"X-Object-Meta-Key{i:02d}": "v" * (41 if i < 46 else 40) for i in range(90)}
    assert sum(len(k) - len("X-Object-Meta-") + len(v) for k, v in meta.items()) == 4096
    assert object_env.put(body=b"payload", headers=meta).status_int == 201
    got = object_env.request("/sda/1/a/c/o")
    assert got.body == b"payload"
    for key, value in meta.items():
        assert got.headers[key] == value
    # the same through POST (.meta file, whose trailer is its whole content)
    object_env.request("/sda/1/a/c/o", "POST", headers={"X-Timestamp": ts(1).normal, **meta})
    head = object_env.request("/sda/1/a/c/o", "HEAD")
    assert all(head.headers[k] == v for k, v in meta.items())
    assert object_env.request("/sda/1/a/c/o").body == b"payload"


def test_unexpected_error_is_500_without_traceback(object_env, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(object_env.app.diskfiles, "diskfile", boom)
    resp = object_env.request("/sda/1/a/c/o")
    assert resp.status_int == 500
    assert b"secret" not in resp.body and b"Traceback" not in resp.body


def test_dispatch_table_takes_new_verbs_and_prefixes(object_env):
    from webob import Response

    app = object_env.app
    app.handlers["REPLICATE"] = lambda req: Response(status=200, body=b"replicated")
    app.prefix_handlers["recon"] = lambda req: Response(status=200, body=b"recon")

    def broken(req):
        raise RuntimeError("oops")

    app.handlers["SYNC"] = broken
    assert object_env.request("/sda/1/abc", "REPLICATE").body == b"replicated"
    assert object_env.request("/recon/diskusage").body == b"recon"
    resp = object_env.request("/sda/1", "SYNC")
    assert resp.status_int == 500 and b"oops" not in resp.body
    assert object_env.put().status_int == 201  # the object verbs are untouched


def wsgi_text(value: str) -> str:
    """How a WSGI server hands over a header's UTF-8 bytes: as latin-1 text."""
    return value.encode("utf-8").decode("latin-1")


def test_utf8_metadata_counts_bytes_and_round_trips(object_env):
    value = "é" * 128  # 256 UTF-8 bytes: the maximum
    resp = object_env.put(headers={"X-Object-Meta-Name": wsgi_text(value)})
    assert resp.status_int == 201
    got = object_env.request("/sda/1/a/c/o", "HEAD").headers["X-Object-Meta-Name"]
    assert got.encode("latin-1").decode("utf-8") == value
    assert object_env.put(headers={"X-Object-Meta-Name": wsgi_text("é" * 129)},
                          timestamp=ts(1)).status_int == 400
    # a value that is not UTF-8 (cut UTF-8, as Swift's suite writes) is kept as its bytes
    assert object_env.put(headers={"X-Object-Meta-Name": "\xff\xfe"},
                          timestamp=ts(2)).status_int == 201
    got = object_env.request("/sda/1/a/c/o", "HEAD").headers["X-Object-Meta-Name"]
    assert got == "\xff\xfe"
    assert len(data_files(object_env)) == 1


def test_odd_numbers_are_400(object_env):
    req = Request.blank("/sda/1/a/c/o", method="PUT", headers={"X-Timestamp": ts().normal})
    req.environ["CONTENT_LENGTH"] = "\u00b2"
    req.environ["wsgi.input"] = io.BytesIO(b"xx")
    assert object_env.send(req).status_int == 400
    for headers in ({"X-Delete-At": "inf"}, {"X-Delete-After": "\u00b2"}):
        assert object_env.put(headers=headers).status_int == 400
    assert object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": ts().normal, "X-If-Delete-At": "\u00b3"}).status_int == 400
    assert data_files(object_env) == []


def test_delete_answers_before_a_big_obsolete_data_is_unlinked(object_env):
    """The unlink of a replaced `.data` of 4 MiB or more runs after the answer, in the
    background; until it has, the tombstone already hides the object."""
    from common.green import eventlet
    from storage.objects.diskfile import BACKGROUND_UNLINK_BYTES

    def on_disk():  # without ObjectEnv.files(), which waits for the background first
        root = os.path.join(object_env.devices, "sda", "objects")
        return sorted(name for _, _, names in os.walk(root) for name in names
                      if name.endswith((".data", ".ts")))

    os_threading = eventlet.patcher.original("threading")
    background = object_env.app.policy_diskfiles[0].background
    put_ts, del_ts = ts(-5), ts()
    body = b"x" * BACKGROUND_UNLINK_BYTES
    assert object_env.put(body=body, timestamp=put_ts).status_int == 201
    gate = os_threading.Event()
    background.start(gate.wait, 10)  # holds the background thread
    resp = object_env.request("/sda/1/a/c/o", "DELETE", headers={"X-Timestamp": del_ts.normal})
    assert resp.status_int == 204
    assert on_disk() == [f"{put_ts.normal}.data", f"{del_ts.normal}.ts"]  # not unlinked yet
    assert object_env.request("/sda/1/a/c/o", "GET").status_int == 404
    gate.set()
    assert [name.rsplit("/", 1)[1] for name in data_files(object_env)] == [f"{del_ts.normal}.ts"]
    assert on_disk() == [f"{del_ts.normal}.ts"]
    small_ts = ts()
    assert object_env.put(body=b"small", timestamp=small_ts).status_int == 201
    newer = ts(1)
    gate.clear()
    background.start(gate.wait, 10)  # held again: a small obsolete file does not wait for it
    assert object_env.put(body=b"newer", timestamp=newer).status_int == 201
    assert on_disk() == [f"{newer.normal}.data"]
    gate.set()
