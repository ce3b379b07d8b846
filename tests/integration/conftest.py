"""Fixtures for tests against real authoritative servers (see servers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import ServerPool


@pytest.fixture
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    """Start servers with `server_pool.start(...)`; all are stopped after the test."""
    with ServerPool(tmp_path_factory.mktemp("servers")) as pool:
        yield pool
