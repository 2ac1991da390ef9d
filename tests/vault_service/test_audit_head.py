"""A truncated audit tail is detectable: the vault logs its audit head at start, at stop and periodically, and
`verify-audit --expect-head COUNT:HASH` fails when the database's chain lacks a head taken from those logs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import grpc
import pytest
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from vault_service.audit import record_hash

from tests.vault_service.harness import ref, running_vault, struct
from tests.vault_service.process import VaultProcess
from tests.vault_service.process import vault_cli as _cli

EVENT = "vault.audit_head"


def _head_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == EVENT]


def _env(mongo_url: str, db_name: str) -> dict[str, str]:
    return {"VAULT_MONGODB_URL": mongo_url, "VAULT_MONGODB_DB": db_name}


async def test_the_real_vault_logs_its_head_at_start_and_stop(mongo_url: str, db_suffix: str, tmp_path: Path) -> None:
    db_name = f"ucf_vault_{db_suffix}"
    vault = VaultProcess(tmp_path, mongo_url, db_name)
    vault.start()
    try:
        await asyncio.to_thread(vault.wait_serving)
        with grpc.insecure_channel(vault.address) as channel:
            stub = vault_pb2_grpc.VaultServiceStub(channel)
            md = (("authorization", f"Bearer {vault.token}"),)
            for owner in ("conn-1", "conn-2", "conn-3"):
                stub.PutSecret(
                    vault_pb2.PutSecretRequest(ref=ref(owner), payload=struct({"apiKey": "x"})), metadata=md, timeout=10
                )
    finally:
        assert vault.stop() == 0

    lines = vault.log_events(EVENT)
    assert [line["at"] for line in lines] == ["start", "stop"]
    assert lines[0]["count"] == 0
    assert lines[1]["count"] == 3 and lines[1]["msg"] == f"audit head 3:{lines[1]['head']}"

    code, out, _ = await _cli(
        "verify-audit", "--expect-head", f"{lines[1]['count']}:{lines[1]['head']}", env=_env(mongo_url, db_name)
    )
    assert code == 0, out
    assert "expected head 3:" in out and "0 records after it" in out


async def test_the_head_is_logged_every_interval(
    mongo_url: str, db_suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vault.audit")
    async with running_vault(mongo_url, f"ucf_vault_{db_suffix}", vault_audit_head_interval_seconds=0.1) as vault:
        await vault.put({"apiKey": "x"})
        await asyncio.sleep(0.6)
        record = await vault.db["vault_audit"].find_one({"_id": 1})
    periodic = [line for line in _head_lines(caplog) if line["at"] == "interval"]
    assert len(periodic) >= 3
    assert (periodic[-1]["count"], periodic[-1]["head"]) == (1, record["hash"])


async def test_verify_audit_fails_when_records_after_the_shipped_head_are_gone(mongo_url: str, db_suffix: str) -> None:
    db_name = f"ucf_vault_{db_suffix}"
    async with running_vault(mongo_url, db_name) as vault:
        for owner in ("conn-1", "conn-2", "conn-3", "conn-4"):
            await vault.put({"apiKey": "x"}, owner=owner)
        count, head_hash = await vault.vault.audit.head()
        audit = vault.db["vault_audit"]
        env = _env(mongo_url, db_name)
        shipped = f"{count}:{head_hash}"

        code, out, _ = await _cli("verify-audit", "--expect-head", shipped, env=env)
        assert (count, code) == (4, 0), out
        earlier = await audit.find_one({"_id": 2})
        code, out, _ = await _cli("verify-audit", "--expect-head", f"2:{earlier['hash']}", env=env)
        assert code == 0 and "2 records after it" in out

        await audit.delete_many({"_id": {"$gt": 2}})
        code, out, _ = await _cli("verify-audit", env=env)
        assert code == 0 and "intact: 2 records" in out  # the shorter chain alone looks fine
        code, out, _ = await _cli("verify-audit", "--expect-head", shipped, env=env)
        assert code == 1
        assert "does NOT contain the expected head" in out and "records 3..4 are missing" in out

        # Rewritten instead of cut: a forged record 4 that chains correctly but is not the one in the logs.
        for seq in (3, 4):
            prev = await audit.find_one({"_id": seq - 1})
            forged = {**prev, "_id": seq, "caller": "someone-else", "prev_hash": prev["hash"]}
            forged["hash"] = record_hash(forged)
            await audit.insert_one(forged)
        code, out, _ = await _cli("verify-audit", env=env)
        assert code == 0
        code, out, _ = await _cli("verify-audit", "--expect-head", shipped, env=env)
        assert code == 1 and "record 4 has hash" in out and "rewritten" in out


async def test_a_malformed_expected_head_is_a_usage_error() -> None:
    code, _, err = await _cli("verify-audit", "--expect-head", "12:not-a-hash")
    assert code == 2 and "expected COUNT:HASH" in err
