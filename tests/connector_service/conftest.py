"""Fixtures for the connector service's own tests: the real server in-process
on a free port, a real SecantusDB database per test, and the in-memory vault
(`fake_vault.py`) unless a test brings the real one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, start_stack


@pytest.fixture
async def stack(mongo_url: str, db_suffix: str) -> AsyncIterator[Stack]:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http) as running,
    ):
        yield running
