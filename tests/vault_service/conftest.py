from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.vault_service.harness import RunningVault, running_vault


@pytest.fixture
async def vault(mongo_url: str, db_suffix: str) -> AsyncIterator[RunningVault]:
    async with running_vault(mongo_url, f"ucf_vault_{db_suffix}") as running:
        yield running
