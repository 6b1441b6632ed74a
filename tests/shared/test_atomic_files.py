"""common.atomic_files: whole-file replacement through a temp file, on a real directory."""
import os
import stat

import pytest

from common.atomic_files import fsync_dir, write_atomic


def test_write_atomic_replaces_content_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    write_atomic(str(target), b"new bytes")
    write_atomic(str(target), "texte accentu\u00e9")
    assert target.read_bytes() == "texte accentu\u00e9".encode("utf-8")
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_write_atomic_mode(tmp_path):
    private, public = tmp_path / "private", tmp_path / "public"
    write_atomic(str(private), b"x")
    write_atomic(str(public), b"x", mode=0o644)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "kept"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(str(target), 12345)  # not bytes: the write fails mid-way
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["kept"]


def test_fsync_dir_refuses_a_plain_file(tmp_path):
    fsync_dir(str(tmp_path))
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_dir(str(plain))


def test_makedirs_durable_creates_every_missing_level(tmp_path):
    from common.atomic_files import makedirs_durable

    target = tmp_path / "a" / "b" / "c"
    makedirs_durable(str(target))
    assert target.is_dir()
    makedirs_durable(str(target))  # existing: nothing to do
    assert target.is_dir()


def test_makedirs_durable_makes_a_parent_removed_meanwhile_again(tmp_path, monkeypatch):
    """Another process removes the empty parent between the walk and the mkdir (as a
    replicator's suffix hashing removes an empty suffix dir): it is made again."""
    from common.atomic_files import makedirs_durable

    parent = tmp_path / "suffix"
    parent.mkdir()
    target = parent / "hash"
    real_mkdir = os.mkdir
    removed = []

    def mkdir_after_a_cleanup(path, *args, **kwargs):
        if not removed and str(path) == str(target):
            removed.append(path)
            os.rmdir(parent)  # the other process got there first
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir_after_a_cleanup)
    makedirs_durable(str(target))
    assert removed and target.is_dir()


def test_make_missing_dirs_names_what_it_made_and_fsync_parents_takes_them(tmp_path):
    from common.atomic_files import fsync_parents, make_missing_dirs

    (tmp_path / "part").mkdir()
    target = tmp_path / "part" / "suffix" / "hash"
    created = make_missing_dirs(str(target))
    assert created == [str(tmp_path / "part" / "suffix"), str(target)]
    assert make_missing_dirs(str(target)) == []
    fsync_parents(created)  # both parents exist: no error
    (target / "x").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        make_missing_dirs(str(target / "x" / "deeper"))
