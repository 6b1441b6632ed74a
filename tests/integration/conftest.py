"""Fixtures shared by the integration tests: swiftclient connections and unique names."""
from __future__ import annotations

import uuid

import pytest
from swiftclient import client as swift


def connect(cluster, user: str) -> swift.Connection:
    return swift.Connection(
        authurl=cluster.auth_url, user=user, key=cluster.credentials[user], auth_version="1",
        retries=0, timeout=60,
    )


@pytest.fixture
def conn(cluster):
    """test:tester (.admin of account test)."""
    return connect(cluster, "test:tester")


@pytest.fixture
def conn2(cluster):
    """test2:tester2 (.admin of account test2)."""
    return connect(cluster, "test2:tester2")


@pytest.fixture
def conn3(cluster):
    """test:tester3 (a user of account test without any role)."""
    return connect(cluster, "test:tester3")


@pytest.fixture
def name():
    """A fresh unique name per call: name('c') -> 'c-<hex>'."""
    return lambda prefix="t": f"{prefix}-{uuid.uuid4().hex[:12]}"
