"""The "Done when" checks of issue 2, end to end: the real gateway, connector service
and vault as separate processes on free ports, against SecantusDB.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.support.stack import LocalStack, grpc_health

pytestmark = pytest.mark.integration

CATALOG = {"jira", "confluence", "github", "salesforce", "postgres"}


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("stack"), mongo_url) as running:
        yield running


@pytest.fixture
def client(stack: LocalStack) -> Iterator[httpx.Client]:
    # The timeout only turns a hang into a failure; no test asserts on timing.
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        yield http


def _store_token(client: httpx.Client, headers: dict[str, str], token: str) -> str:
    stored = client.post(
        "/api/connections/token",
        json={"connectorId": "github", "workspaceId": f"ws-{uuid.uuid4().hex[:8]}", "token": token},
        headers=headers,
    )
    assert stored.status_code == 200, stored.text
    return stored.json()["data"]["id"]


def test_catalog_lists_the_builtin_connectors(client: httpx.Client, stack: LocalStack) -> None:
    response = client.get("/api/connectors", headers=stack.auth_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    items = {item["id"]: item for item in body["data"]["items"]}
    assert CATALOG <= set(items)
    for connector_id in CATALOG:
        assert items[connector_id]["displayName"]
        assert items[connector_id]["authModes"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-key"),
        pytest.param({"Authorization": "Bearer ucf_0123456789abcdef_" + "x" * 40}, id="unknown-key"),
    ],
)
def test_calls_without_a_valid_key_get_the_401_envelope(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get("/api/connectors", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "unauthenticated"
    assert body["error"]["message"]


def test_request_id_is_echoed_and_logged_by_all_three_processes(client: httpx.Client, stack: LocalStack) -> None:
    request_id = f"abc-{uuid.uuid4().hex[:12]}"
    secret = f"ghp_{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}"
    headers = {**stack.auth_headers, "X-Request-Id": request_id}
    connection_id = _store_token(client, headers, secret)

    response = client.get(f"/api/connections/{connection_id}/token", headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["X-Request-Id"] == request_id
    assert response.json()["data"]["accessToken"] == secret
    for name in ("gateway", "connector", "vault"):
        assert request_id in stack.log_text(name), f"{name} logged nothing for request {request_id}"
        assert secret not in stack.log_text(name), f"{name} logged the plaintext token"


def test_connector_service_lists_health_reflection_and_ucf_services(stack: LocalStack) -> None:
    with grpc.insecure_channel(stack.connector_address) as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services
    assert {
        "ucf.connector.v1.ConnectorService",
        "ucf.connector.v1.ConnectionService",
        "ucf.connector.v1.JobService",
        "ucf.connector.v1.WebhookService",
    } <= services
    assert grpc_health(stack.connector_address) == "SERVING"


def test_vault_lists_nothing_through_reflection(stack: LocalStack) -> None:
    # Even a caller holding the vault's client token gets no service list.
    metadata = [("authorization", f"Bearer {stack.vault_client_token}")]
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    with grpc.insecure_channel(stack.vault_address) as channel, pytest.raises(grpc.RpcError) as refused:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        list(stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10))
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert grpc_health(stack.vault_address) == "SERVING"


def test_vault_down_is_reported_and_answered_with_503(mongo_url: str, tmp_path: Path) -> None:
    with (
        LocalStack(tmp_path / "stack", mongo_url) as stack,
        httpx.Client(base_url=stack.gateway_url, timeout=30) as client,
    ):
        connection_id = _store_token(client, stack.auth_headers, f"ghp_{uuid.uuid4().hex}")
        assert client.get("/").json()["data"]["vault"] == "up"

        assert stack.stop_process("vault") == 0

        health = _wait_for_vault_down(client)
        assert health.status_code == 503
        assert health.json()["data"] == {"gateway": "up", "connectorService": "up", "vault": "down"}
        response = client.get(f"/api/connections/{connection_id}/token", headers=stack.auth_headers)
        assert response.status_code == 503, response.text
        assert response.json() == {"ok": False, "error": response.json()["error"]}
        assert response.json()["error"]["code"] == "unavailable"
        # the connector service itself keeps serving what does not need the vault
        assert client.get("/api/connectors", headers=stack.auth_headers).status_code == 200


def _wait_for_vault_down(client: httpx.Client) -> httpx.Response:
    """The connector service notices on its next health ping; poll until it has."""
    for _ in range(200):
        health = client.get("/")
        if health.json()["data"]["vault"] != "up":
            return health
        time.sleep(0.1)
    raise AssertionError("GET / still reports the stopped vault as up")
