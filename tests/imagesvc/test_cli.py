"""`brume image ...` and python-glanceclient against the image API served on loopback
(the session cluster's real auth and object store behind it): the commands, their output and
their one-line errors."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess

import pytest

from cli.image import main

pytestmark = pytest.mark.cluster


@pytest.fixture
def brume_image(served_app, store, capsys):
    flags = ["--auth-url", store.settings.auth_url, "--user", "test:tester", "--key",
             "testing", "--image-url", served_app]

    def run(*args):
        command, rest = args[0], list(args[1:])
        code = main([command, *rest, *flags])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_upload_show_list_download_set_delete(brume_image, tmp_path, store):
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "disk.raw"
    source.write_bytes(data)
    code, out, err = brume_image("upload", str(source), "--name", "disk", "--disk-format", "raw",
                                 "--property", "os_distro=debian", "--progress",
                                 "--format", "json")
    assert code == 0, err
    image = json.loads(out)
    assert image["status"] == "active"
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["os_distro"] == "debian"
    assert "100.0%" in err

    code, out, _ = brume_image("list")
    assert code == 0 and image["id"] in out and "disk" in out
    code, out, _ = brume_image("show", "disk")
    assert code == 0 and hashlib.md5(data).hexdigest() in out

    target = tmp_path / "copy.raw"
    code, _, err = brume_image("download", "disk", "--file", str(target))
    assert code == 0, err
    assert target.read_bytes() == data

    code, out, err = brume_image("set", "disk", "--name", "renamed", "--property", "k=v",
                                 "--remove-property", "os_distro", "--format", "json")
    assert code == 0, err
    changed = json.loads(out)
    assert changed["name"] == "renamed" and changed["k"] == "v" and "os_distro" not in changed

    assert brume_image("deactivate", "renamed")[0] == 0
    assert brume_image("reactivate", "renamed")[0] == 0
    assert brume_image("delete", "renamed")[0] == 0
    code, _, err = brume_image("show", "renamed")
    assert code == 1 and err.count("\n") == 1 and err.startswith("brume: ")
    assert store.names() == set()


def test_upload_rejected_by_the_service_leaves_no_image(brume_image, tmp_path):
    source = tmp_path / "not-qcow2.img"
    source.write_bytes(os.urandom(200_000))
    code, _, err = brume_image("upload", str(source), "--name", "bad", "--disk-format", "qcow2")
    assert code == 1
    assert err.startswith("brume: HTTP 400") and "qcow2" in err and err.count("\n") == 1
    assert brume_image("list", "--format", "json")[1].strip() == "[]"


def test_register_from_object(brume_image, store):
    data = os.urandom(2 * 1024 * 1024 + 3)
    uploads = f"uploads-{store.account[-12:]}"
    store.put(f"/{uploads}/base.img", data, user="test:tester", account="AUTH_test")
    code, out, err = brume_image("register", "--name", "reg", "--disk-format", "raw",
                                 "--from-object", f"{uploads}/base.img", "--format", "json")
    assert code == 0, err
    image = json.loads(out)
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    code, _, err = brume_image("register", "--name", "reg2", "--disk-format", "raw",
                               "--from-object", f"{uploads}/missing")
    assert code == 1 and "404" in err


def test_cli_errors_are_one_line(brume_image, tmp_path):
    code, _, err = brume_image("upload", str(tmp_path / "missing"), "--name", "x",
                               "--disk-format", "raw")
    assert code == 1 and err.startswith("brume: cannot read") and err.count("\n") == 1
    code, _, err = brume_image("set", "nothing-here", "--name", "y")
    assert code == 1 and err.count("\n") == 1


def test_bad_credentials_are_one_line(served_app, store, capsys):
    code = main(["list", "--auth-url", store.settings.auth_url, "--user", "test:tester",
                 "--key", "wrong", "--image-url", served_app])
    err = capsys.readouterr().err
    assert code == 1 and "wrong user or key" in err and err.count("\n") == 1


def glance(url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    # fd 0 closed: glanceclient would otherwise read image data from a non-tty stdin.
    return subprocess.run(["glance", "--os-image-url", url, "--os-auth-token", token, *args],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.close(0), check=False)


def test_python_glanceclient_works_unchanged(served_app, store, tmp_path):
    token = store.token("test:tester")
    data = os.urandom(2 * 1024 * 1024 + 1)
    (tmp_path / "in.raw").write_bytes(data)
    created = glance(served_app, token, "image-create", "--name", "gc", "--disk-format", "raw",
                     "--container-format", "bare")
    assert created.returncode == 0, created.stderr
    image_id = re.search(r"\|\s*id\s*\|\s*(\S+)", created.stdout).group(1)
    assert re.search(r"\|\s*status\s*\|\s*queued", created.stdout)
    uploaded = glance(served_app, token, "image-upload", "--file", str(tmp_path / "in.raw"),
                      image_id)
    assert uploaded.returncode == 0, uploaded.stderr
    listed = glance(served_app, token, "image-list")
    assert listed.returncode == 0 and image_id in listed.stdout
    downloaded = glance(served_app, token, "image-download", "--file",
                        str(tmp_path / "out.raw"), image_id)
    assert downloaded.returncode == 0, downloaded.stderr
    assert (tmp_path / "out.raw").read_bytes() == data


def test_share_and_accept(brume_image, served_app, store, capsys):
    code, out, err = brume_image("upload", "/dev/null", "--name", "empty", "--disk-format",
                                 "raw", "--format", "json")
    assert code == 0, err
    image_id = json.loads(out)["id"]
    code, out, err = brume_image("share", "empty", "test2")
    assert code == 0 and "pending" in out, err
    other = ["--auth-url", store.settings.auth_url, "--user", "test2:tester2", "--key",
             "testing2", "--image-url", served_app]
    assert main(["list", "--format", "json", *other]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["accept", image_id, *other]) == 0
    assert "accepted" in capsys.readouterr().out
    assert main(["list", "--format", "json", *other]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == [image_id]
    code, out, _ = brume_image("members", "empty")
    assert code == 0 and "test2" in out and "accepted" in out
    assert brume_image("unshare", "empty", "test2")[0] == 0
    assert main(["show", image_id, *other]) == 1
