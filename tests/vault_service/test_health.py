"""Health follows the vault's real dependencies; reflection is off unless asked for."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.mongo import secantus_server
from tests.vault_service.harness import RunningVault, running_vault

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _status(vault: RunningVault, service: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(vault.channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return reply.status


async def _wait_for(vault: RunningVault, wanted: int, attempts: int = 300) -> int:
    status = await _status(vault)
    for _ in range(attempts):
        if status == wanted:
            break
        await asyncio.sleep(0.1)
        status = await _status(vault)
    return status


async def test_serving_with_its_dependencies_and_without_credentials_needed(vault: RunningVault) -> None:
    assert await _status(vault) == SERVING
    assert await _status(vault, "ucf.vault.v1.VaultService") == SERVING


async def test_health_reports_not_serving_when_mongodb_stops(db_suffix: str) -> None:
    async with AsyncExitStack() as stack:
        with secantus_server() as private_url:
            vault = await stack.enter_async_context(running_vault(private_url, f"ucf_vault_{db_suffix}"))
            await vault.put({"apiKey": "x"})
            assert await _status(vault) == SERVING
        # the database has stopped; the vault is still running
        assert await _wait_for(vault, NOT_SERVING) == NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as down:
            await vault.get()
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_follows_the_audit_log(vault: RunningVault) -> None:
    await vault.db.command(
        "collMod",
        "vault_audit",
        validator={"$jsonSchema": {"required": ["never"]}},
        validationLevel="strict",
        validationAction="error",
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await vault.get()
    assert await _wait_for(vault, NOT_SERVING) == NOT_SERVING
    await vault.db.command("collMod", "vault_audit", validator={}, validationLevel="off")
    assert await _wait_for(vault, SERVING) == SERVING
    last = await vault.db["vault_audit"].find_one({}, sort=[("_id", -1)])
    assert (last["operation"], last["outcome"]) == ("health_recover", "ok")


async def _reflected_services(vault: RunningVault) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(vault.channel)
    call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    async for reply in call:
        return [service.name for service in reply.list_services_response.service]
    return []


async def test_reflection_is_off_by_default(vault: RunningVault) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as off:
        await _reflected_services(vault)
    assert off.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_can_be_turned_on(mongo_url: str, db_suffix: str) -> None:
    async with running_vault(mongo_url, f"ucf_vault_{db_suffix}", vault_reflection=True) as vault:
        assert "ucf.vault.v1.VaultService" in await _reflected_services(vault)
