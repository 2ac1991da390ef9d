"""Standard health reflects MongoDB (overall) and the vault (its own service
name); reflection lists the ucf services."""

from __future__ import annotations

import contextlib

import grpc
import httpx
from connector_service.app.server import create_server
from connector_service.app.settings import Settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pymongo import AsyncMongoClient

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack
from tests.support.mongo import secantus_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _status(stack: Stack, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(stack.channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status


async def test_serving_with_mongo_and_vault_reported_separately(stack: Stack) -> None:
    assert await _status(stack) == SERVING
    assert await _status(stack, "ucf.connector.v1.ConnectionService") == SERVING
    assert await _status(stack, "ucf.vault.v1.VaultService") == SERVING
    stack.vault.healthy = False
    await stack.server.monitor.check_once()
    assert await _status(stack, "ucf.vault.v1.VaultService") == NOT_SERVING
    assert await _status(stack) == SERVING


async def test_not_serving_once_mongo_stops_answering(db_suffix: str) -> None:
    mongo = contextlib.ExitStack()
    url = mongo.enter_context(secantus_server())
    client: AsyncMongoClient = AsyncMongoClient(url, serverSelectionTimeoutMS=500)
    settings = Settings(connector_port=0, connector_health_interval_seconds=60, _env_file=None)
    async with httpx.AsyncClient() as http:
        server, port = await create_server(settings, client[f"ucf_{db_suffix}"], FakeVault(), http)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                check = health_pb2.HealthCheckRequest(service="")
                assert (await stub.Check(check)).status == SERVING
                mongo.close()
                await server.monitor.check_once()
                assert (await stub.Check(check)).status == NOT_SERVING
        finally:
            await server.stop(0)
            mongo.close()
            await client.close()


async def test_reflection_lists_health_reflection_and_ucf_services(stack: Stack) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(stack.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = set()
    async for answer in stub.ServerReflectionInfo(requests()):
        names |= {s.name for s in answer.list_services_response.service}
    assert {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "ucf.connector.v1.ConnectorService",
        "ucf.connector.v1.ConnectionService",
        "ucf.connector.v1.ResourceService",
        "ucf.connector.v1.JobService",
        "ucf.connector.v1.WebhookService",
    } <= names
