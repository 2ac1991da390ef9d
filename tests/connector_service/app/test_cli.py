"""`python -m connector_service api-keys ...` as an operator runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from connector_service.auth.api_keys import ApiKeyStore
from pymongo import AsyncMongoClient


def _run(mongo_url: str, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MONGODB_URL": mongo_url, "MONGODB_DB": db}
    return subprocess.run(
        [sys.executable, "-m", "connector_service", "api-keys", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd="/",
        check=False,
    )


async def test_create_list_revoke(mongo_url: str, db_suffix: str) -> None:
    db = f"ucf_{db_suffix}"
    created = _run(
        mongo_url, db, "create", "--tenant", "acme", "--scopes", "connections:read,tokens:read", "--name", "ci"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("ucf_")
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        store = ApiKeyStore(client[db], cache_ttl=0)
        principal = await store.verify(key)
        assert principal.tenant_id == "acme" and principal.scopes == {"connections:read", "tokens:read"}
        assert key.split("_", 2)[2] not in repr([d async for d in client[db]["api_keys"].find()])

        listed = _run(mongo_url, db, "list", "--tenant", "acme")
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [r["keyId"] for r in rows] == [principal.key_id] and key not in listed.stdout

        assert _run(mongo_url, db, "revoke", principal.key_id).returncode == 0
        assert await store.verify(key) is None
    finally:
        await client.drop_database(db)
        await client.close()


def test_unknown_scope_is_refused_with_a_message(mongo_url: str, db_suffix: str) -> None:
    result = _run(mongo_url, f"ucf_{db_suffix}", "create", "--tenant", "acme", "--scopes", "everything")
    assert result.returncode == 2 and "everything" in result.stderr and "ucf_" not in result.stdout


def test_ensure_creates_the_key_file_once_then_only_registers_it(
    mongo_url: str, db_suffix: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "dev-api-key"
    first = _run(
        mongo_url, f"ucf_{db_suffix}", "ensure", "--tenant", "dev", "--scopes", "all", "--key-file", str(key_file)
    )
    assert first.returncode == 0, first.stderr
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key not in first.stdout
    again = _run(
        mongo_url, f"ucf_{db_suffix}", "ensure", "--tenant", "dev", "--scopes", "all", "--key-file", str(key_file)
    )
    assert again.returncode == 0 and "already registered" in again.stdout
    assert key_file.read_text().strip() == key
    fresh_db = _run(
        mongo_url, f"ucf_{db_suffix}_b", "ensure", "--tenant", "dev", "--scopes", "all", "--key-file", str(key_file)
    )
    assert fresh_db.returncode == 0 and fresh_db.stdout.startswith("registered")
