"""The audit chain: every call (refused ones too) is recorded without values,
tampering is found, concurrent calls keep one chain, and an unwritable audit
log makes the vault fail closed."""

from __future__ import annotations

import asyncio
import base64
import logging

import grpc
import pytest
from ucf.vault.v1 import vault_pb2
from vault_service.audit import verify_chain

from tests.vault_service.harness import RunningVault, ref, struct

CANARY = "canary-5f1d0e3a9b7c4d2e8f6a"


async def _records(vault: RunningVault) -> list[dict]:
    return [doc async for doc in vault.db["vault_audit"].find({}, sort=[("_id", 1)])]


async def test_every_call_is_audited_including_refused_ones(vault: RunningVault) -> None:
    await vault.put({"apiKey": "x"})
    await vault.get()
    with pytest.raises(grpc.aio.AioRpcError):
        await vault.stub.GetSecret(
            vault_pb2.GetSecretRequest(ref=ref()),
            metadata=(("authorization", "Bearer wrong"), ("x-request-id", "req-denied-1")),
        )
    with pytest.raises(grpc.aio.AioRpcError):
        await vault.get(owner="missing")

    records = await _records(vault)
    assert [(r["operation"], r["outcome"], r["caller"]) for r in records] == [
        ("put", "ok", "token-client"),
        ("get", "ok", "token-client"),
        ("get", "forbidden", "token:invalid"),
        ("get", "not_found", "token-client"),
    ]
    assert records[0]["key_id"] == "k1" and records[0]["tenant_id"] == "acme" and records[0]["kind"] == "oauth2_tokens"
    assert records[2]["request_id"] == "req-denied-1"
    assert (await verify_chain(vault.db["vault_audit"])).intact


async def test_concurrent_calls_keep_a_single_unbroken_chain(vault: RunningVault) -> None:
    await asyncio.gather(
        *(vault.put({"apiKey": f"v{i}"}, owner=f"conn-{i % 5}") for i in range(40)),
        *(
            vault.stub.GetSecretMetadata(vault_pb2.GetSecretMetadataRequest(ref=ref(owner="none")), metadata=vault.md)
            for _ in range(10)
        ),
        return_exceptions=True,
    )
    report = await verify_chain(vault.db["vault_audit"])
    assert report.intact and report.records == 50


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
async def test_verify_reports_the_first_tampered_record(vault: RunningVault, tamper: str) -> None:
    for i in range(6):
        await vault.put({"apiKey": f"v{i}"})
    audit = vault.db["vault_audit"]
    if tamper == "edit":
        await audit.update_one({"_id": 3}, {"$set": {"outcome": "forbidden"}})
    elif tamper == "delete":
        await audit.delete_one({"_id": 3})
    else:
        three, four = await audit.find_one({"_id": 3}), await audit.find_one({"_id": 4})
        await audit.replace_one({"_id": 3}, {**four, "_id": 3})
        await audit.replace_one({"_id": 4}, {**three, "_id": 4})
    report = await verify_chain(audit)
    assert not report.intact
    assert report.first_break == 3
    assert report.records == 2


async def test_reads_fail_closed_when_the_audit_log_is_unwritable(vault: RunningVault) -> None:
    await vault.put({"apiKey": "must-not-leak"})
    await vault.db.command(
        "collMod",
        "vault_audit",
        validator={"$jsonSchema": {"required": ["field_no_record_has"]}},
        validationLevel="strict",
        validationAction="error",
    )
    try:
        for call in (
            vault.get(),
            vault.put({"apiKey": "other"}, owner="conn-2"),
            vault.stub.GetSecret(vault_pb2.GetSecretRequest(ref=ref()), metadata=(("authorization", "Bearer wrong"),)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await call
            assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "must-not-leak" not in str(failed.value)
        assert vault.vault.audit.failing
    finally:
        await vault.db.command("collMod", "vault_audit", validator={}, validationLevel="off")
    assert (await vault.get()).payload["apiKey"] == "must-not-leak"
    assert (await verify_chain(vault.db["vault_audit"])).intact


async def test_the_canary_appears_in_no_audit_record_document_or_log_line(
    vault: RunningVault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forms = [
        CANARY,
        base64.b64encode(CANARY.encode()).decode(),
        base64.urlsafe_b64encode(CANARY.encode()).decode(),
        CANARY.encode().hex(),
    ]
    payload = {"accessToken": CANARY, "refreshToken": CANARY, "nested": {"password": CANARY}}
    await vault.put(payload)
    await vault.get()
    await vault.put(payload, owner="conn-2")
    await vault.db["secrets"].update_one({"owner_id": "conn-2"}, {"$set": {"version": 9}})
    with pytest.raises(grpc.aio.AioRpcError):
        await vault.get(owner="conn-2")  # integrity failure path logs and audits too
    with pytest.raises(grpc.aio.AioRpcError):
        await vault.stub.PutSecret(
            vault_pb2.PutSecretRequest(ref=ref(owner="bad owner"), payload=struct(payload)), metadata=vault.md
        )
    await vault.stub.DeleteSecret(vault_pb2.DeleteSecretRequest(ref=ref()), metadata=vault.md)

    stored = []
    for name in await vault.db.list_collection_names():
        async for doc in vault.db[name].find():
            if name == "secrets":
                doc.pop("ciphertext")
            stored.append(repr(doc))
    text = "\n".join(stored) + "\n".join(caplog.messages) + caplog.text
    assert stored and caplog.records
    for form in forms:
        assert form not in text
