"""Real SQLite tests of the database layer: creation, merges, counts, sync points, metadata."""
from __future__ import annotations

import os
import sqlite3
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.databases.account_db import AccountBroker, merge_container_rows
from storage.databases.broker import (
    ConnectionCache,
    DatabaseNotFound,
    MetadataRejected,
    db_path,
    merge_metadata_dicts,
)
from storage.databases.container_db import ContainerBroker
from storage.databases.listing import ListingParams, Subdir
from tests.storage.test_listing import as_model, naive_listing


def ts(n) -> str:
    return f"{n:010d}.00000"


@pytest.fixture
def container(tmp_path):
    path = db_path(str(tmp_path), "sda", "containers", 7, "a" * 29 + "abc")
    broker = ContainerBroker(path, ConnectionCache(8))
    assert broker.create("AUTH_test", "c", ts(1))
    return broker


def test_path_layout(tmp_path):
    path = db_path("/srv/node", "sda", "containers", 7, "0123456789abcdef0123456789abcdef")
    assert path == (
        "/srv/node/sda/containers/7/def/0123456789abcdef0123456789abcdef/"
        "0123456789abcdef0123456789abcdef.db"
    )


def test_create_is_atomic_wal_and_no_clobber(container):
    directory = os.path.dirname(container.db_path)
    assert not [n for n in os.listdir(directory) if ".tmp" in n]
    mode = container.conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert container.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    first_id = container.get_info()["id"]
    assert not ContainerBroker(container.db_path).create("AUTH_test", "c", ts(5))
    info = container.get_info()
    assert info["id"] == first_id and info["put_timestamp"] == ts(1)
    assert (info["account"], info["container"]) == ("AUTH_test", "c")


def test_missing_database_raises(tmp_path):
    broker = ContainerBroker(str(tmp_path / "nope.db"))
    assert not broker.exists()
    with pytest.raises(DatabaseNotFound):
        broker.get_info()


def test_newer_row_replaces_older_ignored_and_counts_follow(container):
    assert container.put_object("o", ts(2), 10, "text/plain", "e1")
    assert not container.put_object("o", ts(1), 99, "text/plain", "old")
    assert not container.put_object("o", ts(2), 99, "text/plain", "same-ts")
    assert container.put_object("o", ts(3), 20, "text/plain", "e2")
    container.put_object("p", ts(3), 5, "text/plain", "e3")
    info = container.get_info()
    assert (info["object_count"], info["bytes_used"]) == (2, 25)
    assert container.delete_object("o", ts(4))
    info = container.get_info()
    assert (info["object_count"], info["bytes_used"]) == (1, 5)
    assert not container.put_object("o", ts(3), 20, "text/plain", "late PUT")
    row = container.get_object_row("o")
    assert row["deleted"] == 1 and row["created_at"] == ts(4)


def test_replication_round_trip_converges(tmp_path, container):
    other = ContainerBroker(str(tmp_path / "other.db"), ConnectionCache(4))
    other.create("AUTH_test", "c", ts(1))
    container.put_object("a", ts(2), 1, "t", "x")
    container.put_object("b", ts(2), 2, "t", "x")
    other.put_object("a", ts(3), 30, "t", "newer")
    other.put_object("c", ts(2), 4, "t", "x")
    other.delete_object("b", ts(5))

    source_id = other.get_info()["id"]
    since = container.get_sync(source_id)
    assert since == -1
    rows = other.get_items_since(since, 1000)
    assert [r["ROWID"] for r in rows] == sorted(r["ROWID"] for r in rows)
    container.merge_items(rows, source_id=source_id)
    assert container.get_sync(source_id) == other.get_max_row()
    other.merge_items(container.get_items_since(-1, 1000))

    for broker in (container, other):
        info = broker.get_info()
        assert (info["object_count"], info["bytes_used"]) == (2, 34)
        names = [r[0] for r in broker.list_objects(ListingParams(limit=10))]
        assert names == ["a", "c"]
    assert container.get_object_row("a")["etag"] == "newer"
    # merging again changes nothing and gives no new row ids
    max_row = container.get_max_row()
    assert container.merge_items(other.get_items_since(-1, 1000)) == 0
    assert container.get_max_row() == max_row


def test_changed_row_gets_new_rowid(container):
    container.put_object("a", ts(2), 1, "t", "x")
    container.put_object("b", ts(2), 1, "t", "x")
    first = container.get_object_row("a")["ROWID"]
    container.put_object("a", ts(3), 1, "t", "y")
    assert container.get_object_row("a")["ROWID"] > first
    assert [r["name"] for r in container.get_items_since(first, 10)] == ["b", "a"]
    assert len(container.get_items_since(-1, 1)) == 1


def test_sync_points(container):
    assert container.get_sync("peer") == -1
    container.set_sync("peer", 10)
    container.set_sync("peer", 5)  # never goes backwards
    assert container.get_sync("peer") == 10
    container.merge_syncs([{"remote_id": "peer", "sync_point": 12}], incoming=False)
    assert container.get_sync("peer", incoming=False) == 12
    assert container.get_syncs() == [{"remote_id": "peer", "sync_point": 10}]


def test_reset_id_after_whole_copy(tmp_path, container):
    container.put_object("a", ts(2), 1, "t", "x")
    container.set_sync("someone", 3)
    copy_path = str(tmp_path / "copy.db")
    container.snapshot(copy_path)
    copy = ContainerBroker(copy_path)
    assert copy.get_info()["id"] == container.get_info()["id"]
    new_id = copy.reset_id(container.get_info()["id"])
    assert new_id != container.get_info()["id"]
    assert copy.get_sync(container.get_info()["id"]) == container.get_max_row()
    assert copy.get_sync("someone") == -1
    assert copy.get_info()["object_count"] == 1


def test_metadata_merge_by_timestamp_and_validation(container):
    container.merge_metadata({"X-Container-Meta-Color": ("red", ts(2))})
    container.merge_metadata({"X-Container-Meta-Color": ("blue", ts(1))})
    assert container.get_metadata()["X-Container-Meta-Color"] == ["red", ts(2)]
    container.merge_metadata({"X-Container-Meta-Color": ("", ts(3))})
    assert container.get_metadata()["X-Container-Meta-Color"] == ["", ts(3)]
    with pytest.raises(MetadataRejected):
        container.merge_metadata({"X-Container-Meta-A": ("v", ts(4))}, lambda m: "too big")
    assert "X-Container-Meta-A" not in container.get_metadata()
    merged = merge_metadata_dicts({"k": ["a", ts(5)]}, {"k": ("b", ts(5)), "j": ("c", ts(1))})
    assert merged == {"k": ["a", ts(5)], "j": ["c", ts(1)]}


def test_nothing_newer_writes_nothing(container):
    """What every replication pass sends a peer that already has it (its timestamps and
    metadata) changes no row: no write transaction, nothing to commit."""
    container.merge_metadata({"X-Container-Meta-Color": ("red", ts(2))})
    container.update_put_timestamp(ts(3))
    info = container.get_info()
    wal = container.db_path + "-wal"
    changes, wal_size = container.conn.total_changes, os.path.getsize(wal)
    assert container.merge_metadata({k: tuple(v) for k, v in info["metadata"].items()}) == \
        info["metadata"]
    assert container.merge_metadata({"X-Container-Meta-Color": ("blue", ts(1))}) == \
        info["metadata"]
    assert not container.update_put_timestamp(info["put_timestamp"])
    assert not container.update_put_timestamp(ts(1))
    assert not container.mark_deleted(info["delete_timestamp"])
    assert (container.conn.total_changes, os.path.getsize(wal)) == (changes, wal_size)
    with pytest.raises(MetadataRejected):  # a limit still applies to what is kept
        container.merge_metadata({"X-Container-Meta-Color": ("red", ts(2))}, lambda m: "big")
    assert container.update_put_timestamp(ts(4))  # a newer one still lands
    assert container.conn.total_changes > changes


def test_reclaim_drops_old_tombstones_only(container):
    container.put_object("live", ts(2), 1, "t", "x")
    container.delete_object("old", ts(3))
    container.delete_object("recent", ts(9))
    container.merge_metadata({"X-Container-Meta-Gone": ("", ts(3))})
    assert container.reclaim(ts(5)) == 1
    assert container.get_object_row("old") is None
    assert container.get_object_row("recent") is not None
    assert "X-Container-Meta-Gone" not in container.get_metadata()


def test_status_and_timestamps(container):
    assert not container.is_deleted()
    assert container.mark_deleted(ts(2))
    assert container.is_deleted()
    assert not container.mark_deleted(ts(1))
    assert container.update_put_timestamp(ts(3))
    info = container.get_info()
    assert not ContainerBroker.status_deleted(info)
    assert info["status_changed_at"] > ts(3)


def test_connection_reopened_when_file_replaced(tmp_path, container):
    container.put_object("a", ts(2), 1, "t", "x")
    replacement = str(tmp_path / "replacement.db")
    other = ContainerBroker(replacement)
    other.create("AUTH_test", "c", ts(1))
    other.put_object("z", ts(2), 1, "t", "x")
    other.close()
    os.rename(replacement, container.db_path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(container.db_path + suffix):
            os.unlink(container.db_path + suffix)
    names = [r[0] for r in container.list_objects(ListingParams(limit=10))]
    assert names == ["z"]


def test_listing_uses_index_and_subdirs(container):
    container.merge_items([
        {"name": f"d{i}/o{j:03d}", "created_at": ts(2), "size": 1, "content_type": "t",
         "etag": "x", "deleted": 0}
        for i in range(3) for j in range(50)
    ])
    container.put_object("top", ts(2), 1, "t", "x")
    entries = container.list_objects(ListingParams(limit=10, delimiter="/"))
    assert entries[:3] == [Subdir("d0/"), Subdir("d1/"), Subdir("d2/")]
    assert entries[3][0] == "top"
    plan = container.conn.execute(
        "EXPLAIN QUERY PLAN SELECT name FROM object WHERE deleted = 0 AND name > ? "
        "ORDER BY name LIMIT 5",
        ("a",),
    ).fetchall()
    assert "ix_object_deleted_name" in plan[0][3]


def test_account_rows_merge_newest_wins(tmp_path):
    account = AccountBroker(str(tmp_path / "acct.db"))
    assert account.create("AUTH_test", ts(1))
    account.put_container("c", ts(2), ts(0), 5, 50, stats_timestamp=ts(10))
    account.put_container("c", ts(2), ts(0), 1, 1, stats_timestamp=ts(9))  # stale stats
    account.put_container("d", ts(2), ts(0), 2, 20, stats_timestamp=ts(10))
    info = account.get_info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (2, 7, 70)
    account.put_container("c", ts(2), ts(3), 0, 0, stats_timestamp=ts(11))
    info = account.get_info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (1, 2, 20)
    assert [r[0] for r in account.list_containers(ListingParams(limit=10))] == ["d"]
    # a late report with an older put timestamp does not revive it
    account.put_container("c", ts(1), ts(0), 9, 9, stats_timestamp=ts(12))
    assert account.get_container_row("c")["deleted"] == 1


def test_account_merge_is_order_independent():
    rows = [
        {"name": "c", "put_timestamp": ts(2), "delete_timestamp": ts(0), "object_count": 1,
         "bytes_used": 1, "stats_timestamp": ts(5)},
        {"name": "c", "put_timestamp": ts(2), "delete_timestamp": ts(4), "object_count": 0,
         "bytes_used": 0, "stats_timestamp": ts(6)},
        {"name": "c", "put_timestamp": ts(7), "delete_timestamp": ts(0), "object_count": 3,
         "bytes_used": 3, "stats_timestamp": ts(8)},
    ]
    results = set()
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]):
        current = None
        for index in order:
            current = merge_container_rows(current, rows[index])
        results.add(tuple(sorted(current.items())))
    assert len(results) == 1
    (merged,) = results
    assert dict(merged)["deleted"] == 0 and dict(merged)["object_count"] == 3


def test_corrupt_file_is_an_error_not_silence(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        ContainerBroker(str(path), ConnectionCache(2)).get_info()


def test_install_copy_where_missing_then_where_present(tmp_path, container):
    container.put_object("a", ts(2), 1, "t", "x")
    container.merge_metadata({"X-Container-Meta-K": ("v", ts(2))})
    source_id = container.get_info()["id"]
    copy_path = str(tmp_path / "copy.db")
    container.snapshot(copy_path)
    target = ContainerBroker(str(tmp_path / "part" / "abc" / "h" / "h.db"), ConnectionCache(2))
    assert target.install_copy(copy_path, source_id)
    assert not os.path.exists(copy_path)
    info = target.get_info()
    assert info["id"] != source_id and info["object_count"] == 1
    assert target.get_sync(source_id) == container.get_max_row()

    # a second copy arriving when the database exists is merged, never swapped in
    container.put_object("b", ts(3), 2, "t", "x")
    container.mark_deleted(ts(1))
    container.snapshot(copy_path)
    target.put_object("local", ts(3), 4, "t", "x")
    assert not target.install_copy(copy_path, source_id)
    info = target.get_info()
    assert info["id"] != source_id
    assert (info["object_count"], info["bytes_used"]) == (3, 7)
    assert info["metadata"]["X-Container-Meta-K"] == ["v", ts(2)]
    assert not [n for n in os.listdir(tmp_path) if n.startswith("copy.db")]


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.text(st.sampled_from("ab/-é\U0001f600\u00ff"), min_size=1, max_size=5),
                   max_size=25),
    prefix=st.text(st.sampled_from("ab/é"), max_size=2),
    delimiter=st.sampled_from(["", "/", "é"]),
    marker=st.text(st.sampled_from("ab/\U0001f600"), max_size=2),
    reverse=st.booleans(),
    limit=st.integers(min_value=1, max_value=8),
)
def test_sql_listing_matches_naive_model(names, prefix, delimiter, marker, reverse, limit):
    with tempfile.TemporaryDirectory() as scratch:
        broker = ContainerBroker(os.path.join(scratch, "c.db"), ConnectionCache(1))
        broker.create("AUTH_a", "c", ts(1))
        broker.merge_items([
            {"name": n, "created_at": ts(2), "size": 1, "content_type": "t", "etag": "e",
             "deleted": 0} for n in names
        ])
        params = ListingParams(limit, marker, "", prefix, delimiter, reverse)
        got = as_model(broker.list_objects(params))
        broker.close()
    assert got == naive_listing(names, params)


def test_a_deleted_database_loses_its_metadata_but_not_its_backend_keys(container):
    """As Swift: ACLs and metadata of a deleted container do not come back with a new one."""
    container.merge_metadata({"X-Container-Read": ("test2", ts(2)),
                              "X-Backend-Storage-Policy-Index": ("1", ts(2))})
    assert container.mark_deleted(ts(3))
    assert not container.mark_deleted(ts(3))
    assert container.update_put_timestamp(ts(4))
    metadata = container.get_metadata()
    assert metadata["X-Container-Read"] == ["", ts(3)]
    assert metadata["X-Backend-Storage-Policy-Index"] == ["1", ts(2)]
    container.merge_metadata({"X-Container-Read": ("test3", ts(5))})
    assert container.get_metadata()["X-Container-Read"] == ["test3", ts(5)]
