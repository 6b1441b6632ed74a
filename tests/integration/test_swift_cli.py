"""The `swift` command line client against the all-in-one cluster, unchanged: upload, list,
download, stat, delete, and a 200 MiB upload in 64 MiB segments verified after download."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.parse

import pytest

from tests.integration.httpraw import request
from tests.integration.support import wait_until

pytestmark = pytest.mark.cluster

SWIFT = shutil.which("swift")


def swift(cluster, *args: str, cwd=None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_"))}
    result = subprocess.run(
        [SWIFT, "-A", cluster.auth_url, "-U", "test:tester", "-K", "testing", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env, check=False,
    )
    assert result.returncode == 0, f"swift {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result


def md5_of(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_random(path, size: int, chunk: int = 4 << 20) -> None:
    with open(path, "wb") as handle:
        left = size
        while left:
            piece = os.urandom(min(chunk, left))
            handle.write(piece)
            left -= len(piece)


def test_upload_list_download_stat_delete(cluster, name, tmp_path):
    container = name("cli")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(200_000))

    swift(cluster, "upload", container, "a.txt", "sub/b.bin", cwd=src)
    listed = swift(cluster, "list", container).stdout.split()
    assert listed == ["a.txt", "sub/b.bin"]
    assert container in swift(cluster, "list").stdout.split()

    stat = swift(cluster, "stat", container).stdout
    assert "Objects: 2" in stat
    obj_stat = swift(cluster, "stat", container, "a.txt").stdout
    assert "Content Length: 6" in obj_stat

    out = tmp_path / "out"
    out.mkdir()
    swift(cluster, "download", container, cwd=out)
    assert (out / "a.txt").read_bytes() == b"alpha\n"
    assert md5_of(out / "sub" / "b.bin") == md5_of(src / "sub" / "b.bin")

    swift(cluster, "post", "-m", "Color:red", container, "a.txt")
    assert "Color: red" in swift(cluster, "stat", container, "a.txt").stdout

    swift(cluster, "delete", container)
    listing = subprocess.run(
        [SWIFT, "-A", cluster.auth_url, "-U", "test:tester", "-K", "testing", "list", container],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert listing.returncode != 0 and "not found" in listing.stderr


def test_segmented_200mib_upload_and_download(cluster, name, tmp_path):
    container = name("big")
    src = tmp_path / "big.bin"
    write_random(src, 200 * 1024 * 1024)
    expected = md5_of(src)

    swift(cluster, "upload", "--segment-size", "64M", container, "big.bin", cwd=tmp_path)
    segments = swift(cluster, "list", f"{container}_segments").stdout.split()
    assert len(segments) == 4  # 64 + 64 + 64 + 8 MiB
    stat = swift(cluster, "stat", container, "big.bin").stdout
    assert f"Content Length: {200 * 1024 * 1024}" in stat
    assert "Manifest:" in stat or "Static-Large-Object: True" in stat

    out = tmp_path / "out"
    out.mkdir()
    swift(cluster, "download", container, "big.bin", "-o", str(out / "copy.bin"))
    assert md5_of(out / "copy.bin") == expected
    src.unlink()

    swift(cluster, "delete", container, "big.bin")
    token, url = cluster.auth()
    for segment in segments:  # every segment went with its manifest
        path = "/" + urllib.parse.quote(f"{container}_segments/{segment}")
        assert request(url, "HEAD", {"X-Auth-Token": token}, path=path).status == 404

    def listing_empty():
        if swift(cluster, "list", f"{container}_segments").stdout.split() == []:
            return True
        for node in cluster.layout.nodes:  # late container updates are async pendings
            cluster.run_daemon_once(node, "object-updater")
        return False

    wait_until(listing_empty, timeout=60, interval=0.5,
               message="segment listing still shows deleted segments")
