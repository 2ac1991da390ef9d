"""Shared fixtures. One SecantusDB server serves the whole test session; each
test that touches the database gets its own database names, so tests never see
each other's documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.mongo import secantus_server


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    with secantus_server() as url:
        yield url


@pytest.fixture
def db_suffix() -> str:
    """A unique suffix for per-test database names (e.g. f"ucf_{db_suffix}")."""
    return uuid.uuid4().hex[:10]
