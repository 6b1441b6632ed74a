"""Group commit of object rows: many concurrent row updates, one SQLite transaction and fsync.

Object servers send one container update per object PUT/DELETE, and each acknowledged
update must be durable, so committing them one by one costs one fsync per row. Under
eventlet a SQLite commit blocks the whole process anyway, so the requests that arrive
during one commit are all runnable right after it. The first of them for a database
becomes the leader: it yields once so the others can queue their rows, then merges the
whole batch in one transaction; everyone answers only after that commit. Alone, a request
commits at once (one yield, no waiting).
"""
from __future__ import annotations

from common.green import eventlet


class GroupCommitter:
    """Batches `broker.merge_items` calls per database path."""

    def __init__(self, max_batch: int = 512):
        self.max_batch = max_batch
        self._queues: dict[str, list] = {}

    def merge(self, broker, row: dict) -> None:
        """Merge one row durably (returns once its transaction has committed)."""
        queue = self._queues.get(broker.db_path)
        if queue is not None and len(queue) < self.max_batch:
            done = eventlet.event.Event()
            queue.append((row, done))
            done.wait()  # raises the leader's exception if the batch failed
            return
        self._lead(broker, row)

    def _lead(self, broker, row: dict) -> None:
        queue: list = [(row, None)]
        path = broker.db_path
        self._queues[path] = queue
        try:
            eventlet.sleep(0)  # let requests that are ready queue their rows
        finally:
            if self._queues.get(path) is queue:
                del self._queues[path]
        try:
            broker.merge_items([item for item, _ in queue])
        except Exception as exc:
            for _, done in queue:
                if done is not None:
                    done.send_exception(exc)
            raise
        for _, done in queue:
            if done is not None:
                done.send(True)
