"""`make api-key` writes the key into the database `make run` uses: SecantusDB on
`MONGO_PORT`, or `MONGODB_URL` when set (tools/devstack.py decides both)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _make_api_key(tenant: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", "api-key", f"TENANT={tenant}", "SCOPES=connectors:read", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _tenants_with_keys(mongo_url: str, database: str) -> set[str]:
    env = {**os.environ, "MONGODB_URL": mongo_url, "MONGODB_DB": database}
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "connector_service", "api-keys", "list"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {tenant for tenant in ("acme-port", "acme-url") if tenant in done.stdout}


@pytest.mark.parametrize("how", ["MONGO_PORT", "MONGODB_URL"])
def test_api_key_reaches_the_database_make_run_uses(mongo_url: str, how: str) -> None:
    database = f"ucf_{uuid.uuid4().hex[:10]}"
    env = {key: value for key, value in os.environ.items() if key not in ("MONGODB_URL", "MONGO_PORT")}
    env["MONGODB_DB"] = database
    tenant = "acme-port" if how == "MONGO_PORT" else "acme-url"
    if how == "MONGO_PORT":
        key = _make_api_key(tenant, env, f"MONGO_PORT={urlsplit(mongo_url).port}")
    else:
        key = _make_api_key(tenant, {**env, "MONGODB_URL": mongo_url})
    assert key.startswith("ucf_")
    assert _tenants_with_keys(mongo_url, database) == {tenant}
