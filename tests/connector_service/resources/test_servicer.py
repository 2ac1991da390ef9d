"""ResourceService through a real in-process gRPC server with a fake context factory."""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc
import pytest
from connector_service.connectors.auth import ApiKeyCredential
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.resources.servicer import ResourceServicer
from google.protobuf import struct_pb2
from ucf.connector.v1 import resources_pb2, resources_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.grpc_server import RequestContextInterceptor

from tests.fakes.github_server import TOKEN, FakeGitHub


@dataclass
class Principal:
    tenant_id: str


@pytest.fixture(scope="module")
def gh():
    with FakeGitHub(repos=2, issues_per_repo=5, pulls_per_repo=1, comments_per_issue=2).serve() as fake:
        yield fake


@pytest.fixture
async def stub(gh, make_ctx):
    opened: list[tuple[str, str, str]] = []

    async def context_factory(tenant_id: str, connection_id: str, connector_id: str):
        opened.append((tenant_id, connection_id, connector_id))
        if connection_id != "conn-1":
            raise UcfError(ErrorCode.NOT_FOUND, f"connection {connection_id!r} not found")
        return make_ctx(connector_id, ApiKeyCredential(TOKEN), base_url=gh.base_url, extra_details=True)

    registry = ConnectorRegistry([GitHubConnector, PostgresConnector])
    server = grpc.aio.server(interceptors=[RequestContextInterceptor()])
    resources_pb2_grpc.add_ResourceServiceServicer_to_server(
        ResourceServicer(registry, context_factory, lambda: Principal("tenant-a")), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    client = resources_pb2_grpc.ResourceServiceStub(channel)
    client.opened = opened
    yield client
    await channel.close()
    await server.stop(None)
    await registry.aclose()


async def rpc_error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


def error_code(err: grpc.aio.AioRpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("ucf-error-code", "")


async def test_items_page_through_grpc_with_opaque_cursor(stub):
    request = resources_pb2.ListItemsRequest(
        connector_id="github", connection_id="conn-1", container_id="octo/repo0", limit=2
    )
    ids, pages = [], 0
    while True:
        answer = await stub.ListItems(request)
        ids.extend(json.loads(i)["id"] for i in answer.items_json)
        pages += 1
        if not answer.next:
            break
        request.cursor = answer.next
    assert ids == ["1", "2", "3", "4", "5"] and pages == 3
    assert stub.opened[0] == ("tenant-a", "conn-1", "github")


async def test_item_fields_and_raw_travel_as_structs(stub):
    answer = await stub.GetItem(
        resources_pb2.GetItemRequest(
            connector_id="github", connection_id="conn-1", container_id="octo/repo1", item_id="3"
        )
    )
    assert answer.item.title == "Issue 2" and answer.item.body.format == "markdown"
    assert answer.item.fields["number"] == 3 and answer.item.raw["html_url"].endswith("/issues/3")
    assert answer.item.created_at.seconds > 0


@pytest.mark.parametrize("limit", [pytest.param(-1, id="negative"), pytest.param(201, id="above-200")])
async def test_limit_outside_1_to_200_is_invalid_argument(stub, limit):
    err = await rpc_error(
        stub.ListContainers(
            resources_pb2.ListContainersRequest(connector_id="github", connection_id="conn-1", limit=limit)
        )
    )
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT and error_code(err) == "invalid_request"
    assert stub.opened == []


async def test_missing_capability_is_failed_precondition_before_touching_the_connection(stub):
    err = await rpc_error(
        stub.ListComments(
            resources_pb2.ListCommentsRequest(
                connector_id="postgres", connection_id="conn-1", container_id="public.t", item_id="1"
            )
        )
    )
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "postgres does not support comments"
    assert stub.opened == []


async def test_unknown_connector_and_connection_are_not_found(stub):
    err = await rpc_error(
        stub.ListContainers(resources_pb2.ListContainersRequest(connector_id="nope", connection_id="conn-1"))
    )
    assert err.code() is grpc.StatusCode.NOT_FOUND
    err = await rpc_error(
        stub.ListContainers(resources_pb2.ListContainersRequest(connector_id="github", connection_id="other"))
    )
    assert err.code() is grpc.StatusCode.NOT_FOUND


async def test_create_item_and_comment_through_grpc(stub, gh):
    fields = struct_pb2.Struct()
    fields.update({"labels": ["ops"]})
    created = await stub.CreateItem(
        resources_pb2.CreateItemRequest(
            connector_id="github",
            connection_id="conn-1",
            container_id="octo/repo1",
            title="Disk full",
            body=resources_pb2.Body(text="df says 100%"),
            fields=fields,
        )
    )
    assert created.item.title == "Disk full" and list(created.item.fields["labels"]) == ["ops"]
    comment = await stub.CreateComment(
        resources_pb2.CreateCommentRequest(
            connector_id="github",
            connection_id="conn-1",
            container_id="octo/repo1",
            item_id=created.item.id,
            body=resources_pb2.Body(text="cleaned"),
        )
    )
    assert comment.comment.body.text == "cleaned"
    assert gh.comments[("octo/repo1", int(created.item.id))][-1]["body"] == "cleaned"


async def test_upstream_rate_limit_reaches_grpc_callers_with_retry_after(stub, gh):
    gh.fail(429, {"message": "secondary rate limit"}, headers={"retry-after": "90"}, path_contains="/user/repos")
    err = await rpc_error(
        stub.ListContainers(resources_pb2.ListContainersRequest(connector_id="github", connection_id="conn-1"))
    )
    assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert UcfError.from_rpc_error(err).details["retryAfter"] == 90
