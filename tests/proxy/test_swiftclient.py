"""python-swiftclient and its `swift` CLI, unchanged, against a proxy process."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest
from swiftclient import client as swift
from swiftclient.exceptions import ClientException

from tests.proxy.cluster import ROOT, free_port, healthy, wait_until, write_proxy_conf


@pytest.fixture(scope="module")
def proxy_url(storage_cluster):
    port = free_port()
    conf = write_proxy_conf(storage_cluster.base, storage_cluster.conf_dir, port)
    log = open(os.path.join(storage_cluster.logs, f"proxy-{port}.log"), "ab")
    proc = subprocess.Popen([sys.executable, "-m", "common.wsgi_server", conf], cwd=ROOT,
                            stdout=log, stderr=log)
    log.close()
    try:
        wait_until(lambda: healthy(port), 90, "proxy")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def swift_cli(proxy_url, *args, cwd=None, user="test:tester", key="testing"):
    command = [shutil.which("swift") or "swift", "-A", f"{proxy_url}/auth/v1.0", "-U", user,
               "-K", key, *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_library_round_trip(proxy_url):
    conn = swift.Connection(f"{proxy_url}/auth/v1.0", "test:tester", "testing")
    conn.put_container("sc-lib")
    etag = conn.put_object("sc-lib", "hello.txt", b"hello world",
                           headers={"X-Object-Meta-Who": "me"})
    assert etag == hashlib.md5(b"hello world").hexdigest()
    headers, body = conn.get_object("sc-lib", "hello.txt")
    assert body == b"hello world" and headers["x-object-meta-who"] == "me"
    _headers, listing = conn.get_container("sc-lib")
    assert [entry["name"] for entry in listing] == ["hello.txt"]
    assert conn.head_account()["x-account-container-count"] >= "1"
    assert "slo" in conn.get_capabilities()
    conn.delete_object("sc-lib", "hello.txt")
    with pytest.raises(ClientException) as excinfo:
        conn.get_object("sc-lib", "hello.txt")
    assert excinfo.value.http_status == 404
    bad = swift.Connection(f"{proxy_url}/auth/v1.0", "test:tester", "wrong", retries=0)
    with pytest.raises(ClientException) as excinfo:
        bad.head_account()
    assert excinfo.value.http_status == 401


def md5_file(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.parametrize("mode", ["plain", "slo", "dlo"])
def test_cli_upload_list_stat_download_delete(proxy_url, tmp_path, mode):
    source = tmp_path / "up"
    source.mkdir()
    data = os.urandom(1024 * 1024) * 3 + b"tail"
    (source / "file.bin").write_bytes(data)
    args = ["upload", f"cli-{mode}", "file.bin"]
    if mode != "plain":
        args[1:1] = ["--segment-size", "1048576"]
        if mode == "dlo":
            args.insert(1, "--use-dlo")
    result = swift_cli(proxy_url, *args, cwd=source)
    assert result.returncode == 0, result.stderr
    listed = swift_cli(proxy_url, "list", f"cli-{mode}")
    assert listed.stdout.split() == ["file.bin"], listed.stderr
    stat = swift_cli(proxy_url, "stat", f"cli-{mode}", "file.bin")
    assert stat.returncode == 0 and f"Content Length: {len(data)}" in stat.stdout
    if mode == "slo":
        # no DLO "Manifest: <container>/<prefix>" line (X-Manifest-Etag is the SLO's own)
        manifest_lines = [line for line in stat.stdout.splitlines()
                          if line.strip().startswith("Manifest:")]
        assert not manifest_lines or "segments" in stat.stdout
    if mode != "plain":
        segments = swift_cli(proxy_url, "list", f"cli-{mode}_segments").stdout.split()
        assert len(segments) == 4
    target = tmp_path / "down"
    target.mkdir()
    down = swift_cli(proxy_url, "download", f"cli-{mode}", "file.bin", cwd=target)
    assert down.returncode == 0, down.stderr
    assert md5_file(target / "file.bin") == hashlib.md5(data).hexdigest()
    deleted = swift_cli(proxy_url, "delete", f"cli-{mode}", "file.bin")
    assert deleted.returncode == 0, deleted.stderr
    assert swift_cli(proxy_url, "list", f"cli-{mode}").stdout.split() == []
    if mode != "plain":
        assert swift_cli(proxy_url, "list", f"cli-{mode}_segments").stdout.split() == []


def test_cli_reports_auth_failure(proxy_url):
    result = swift_cli(proxy_url, "list", key="wrong")
    assert result.returncode != 0
    assert "401" in result.stderr or "Unauthorized" in result.stderr


def test_cli_stat_post_capabilities_copy(proxy_url, tmp_path):
    assert swift_cli(proxy_url, "post", "cli-misc").returncode == 0
    posted = swift_cli(proxy_url, "post", "-r", "test2:tester2", "-m", "color:red", "cli-misc")
    assert posted.returncode == 0, posted.stderr
    stat = swift_cli(proxy_url, "stat", "cli-misc")
    assert "Read ACL: test2:tester2" in stat.stdout and "Meta Color: red" in stat.stdout
    account = swift_cli(proxy_url, "stat")
    assert account.returncode == 0 and "Account: AUTH_test" in account.stdout
    caps = swift_cli(proxy_url, "capabilities")
    assert caps.returncode == 0 and "slo" in caps.stdout and "max_file_size" in caps.stdout
    (tmp_path / "f.txt").write_text("copy source")
    up = swift_cli(proxy_url, "upload", "cli-misc", "f.txt", "--object-name", "f.txt",
                   cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    copied = swift_cli(proxy_url, "copy", "-d", "/cli-misc/g.txt", "cli-misc", "f.txt")
    assert copied.returncode == 0, copied.stderr
    conn = swift.Connection(f"{proxy_url}/auth/v1.0", "test2:tester2", "testing2")
    test_url = conn.get_auth()[0].replace("AUTH_test2", "AUTH_test")
    conn2 = swift.Connection(preauthurl=test_url, preauthtoken=conn.get_auth()[1])
    assert conn2.get_object("cli-misc", "g.txt")[1] == b"copy source"
    with pytest.raises(ClientException) as excinfo:
        conn2.put_object("cli-misc", "x", b"no write acl")
    assert excinfo.value.http_status == 403
    assert swift_cli(proxy_url, "delete", "cli-misc").returncode == 0
    assert "cli-misc" not in swift_cli(proxy_url, "list").stdout.split()


def test_content_type_guessed_when_client_sends_none(proxy_url):
    import http.client
    from urllib.parse import urlparse

    conn = swift.Connection(f"{proxy_url}/auth/v1.0", "test:tester", "testing")
    url, token = conn.get_auth()
    conn.put_container("ctype")
    parsed = urlparse(url)
    raw = http.client.HTTPConnection(parsed.hostname, parsed.port)
    for name, expected in (("pic.png", "image/png"), ("data.bin", "application/octet-stream")):
        raw.putrequest("PUT", f"{parsed.path}/ctype/{name}", skip_accept_encoding=True)
        raw.putheader("X-Auth-Token", token)
        raw.putheader("Content-Length", "3")
        raw.endheaders(b"abc")
        response = raw.getresponse()
        response.read()
        assert response.status == 201
        assert conn.head_object("ctype", name)["content-type"] == expected
    conn.put_object("ctype", "given.txt", b"x", content_type="application/x-given")
    assert conn.head_object("ctype", "given.txt")["content-type"] == "application/x-given"
