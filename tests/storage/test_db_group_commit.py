"""Group commit: concurrent row updates share one transaction, and every one is durable."""
from __future__ import annotations

import pytest

from common.green import eventlet
from storage.databases.broker import ConnectionCache, DatabaseNotFound
from storage.databases.container_db import ContainerBroker
from storage.databases.group_commit import GroupCommitter


class CountingBroker(ContainerBroker):
    """A real broker that counts its merge transactions."""

    transactions = 0

    def merge_items(self, rows, source_id=None):
        type(self).transactions += 1
        return super().merge_items(rows, source_id)


def row(name: str, ts: int, deleted: int = 0) -> dict:
    return {"name": name, "created_at": f"{ts:010d}.00000", "size": 0 if deleted else 3,
            "content_type": "text/plain", "etag": "e", "deleted": deleted}


def test_concurrent_rows_share_transactions(tmp_path):
    CountingBroker.transactions = 0
    broker = CountingBroker(str(tmp_path / "c.db"), ConnectionCache(2))
    broker.create("AUTH_a", "c", "1")
    committer = GroupCommitter()
    threads = [eventlet.spawn(committer.merge, broker, row(f"o{i}", 2)) for i in range(40)]
    for thread in threads:
        thread.wait()
    threads = [eventlet.spawn(committer.merge, broker, row(f"o{i}", 3, 1)) for i in range(10)]
    for thread in threads:
        thread.wait()
    assert CountingBroker.transactions <= 4
    fresh = ContainerBroker(broker.db_path, ConnectionCache(1))
    info = fresh.get_info()
    assert (info["object_count"], info["bytes_used"]) == (30, 90)


def test_batch_size_is_bounded(tmp_path):
    CountingBroker.transactions = 0
    broker = CountingBroker(str(tmp_path / "c.db"), ConnectionCache(2))
    broker.create("AUTH_a", "c", "1")
    committer = GroupCommitter(max_batch=5)
    threads = [eventlet.spawn(committer.merge, broker, row(f"o{i}", 2)) for i in range(20)]
    for thread in threads:
        thread.wait()
    assert CountingBroker.transactions >= 4
    assert broker.get_info()["object_count"] == 20


def test_failure_reaches_every_waiter(tmp_path):
    broker = ContainerBroker(str(tmp_path / "missing.db"), ConnectionCache(2))
    committer = GroupCommitter()
    threads = [eventlet.spawn(committer.merge, broker, row(f"o{i}", 2)) for i in range(5)]
    for thread in threads:
        with pytest.raises(DatabaseNotFound):
            thread.wait()
    assert not committer._queues
