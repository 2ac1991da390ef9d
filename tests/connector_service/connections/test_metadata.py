"""Connection metadata has two owners: the caller's user metadata (a JSON merge patch,
RFC 7396) and the provider-derived system metadata that only onboarding and refresh
write, and that alone decides where a credential may be sent."""

from __future__ import annotations

import grpc
import pytest
from connector_service.connections.metadata import checked_user_patch, merge_patch
from connector_service.connections.store import ConnectionStore
from google.protobuf import struct_pb2
from ucf.connector.v1 import connections_pb2 as pb
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.harness import Stack, auth


def _struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _error_code(err: grpc.aio.AioRpcError) -> str:
    return dict(err.trailing_metadata() or ()).get("ucf-error-code", "")


@pytest.mark.parametrize(
    ("target", "patch", "merged"),
    [
        pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace"),
        pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="absent-kept"),
        pytest.param({"a": "b"}, {"a": None}, {}, id="null-deletes"),
        pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null-deletes-only-that"),
        pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="array-replaced"),
        pytest.param({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="nested"),
        pytest.param({"a": "foo"}, {"a": {"b": None}}, {"a": {}}, id="scalar-becomes-object"),
        pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nulls-in-new-objects-dropped"),
    ],
)
def test_merge_patch_follows_rfc_7396(target: dict, patch: dict, merged: dict) -> None:
    assert merge_patch(target, patch) == merged


async def test_an_update_keeps_absent_keys_and_null_deletes(stack: Stack) -> None:
    key = await stack.key()
    created = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(
            connector_id="github", workspace_id="ws", metadata=_struct({"team": "core", "tier": "gold"})
        ),
        metadata=auth(key),
    )
    updated = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(
            connection_id=created.connection.id, metadata=_struct({"tier": None, "region": "eu"})
        ),
        metadata=auth(key),
    )
    assert dict(updated.connection.metadata) == {"team": "core", "region": "eu"}
    renamed = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(connection_id=created.connection.id, name="Core team"), metadata=auth(key)
    )
    assert dict(renamed.connection.metadata) == {"team": "core", "region": "eu"}


@pytest.mark.parametrize("system_key", ["instance_url", "cloud_id", "site_url"])
async def test_a_system_key_in_a_connection_write_is_refused_naming_it(stack: Stack, system_key: str) -> None:
    key = await stack.key()
    for request in (
        pb.UpsertConnectionRequest(
            connector_id="salesforce", workspace_id="new", metadata=_struct({system_key: "https://attacker.example"})
        ),
        pb.UpsertConnectionRequest(
            connector_id="jira", workspace_id="ws", metadata=_struct({"note": "x", system_key: None})
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.connections.UpsertConnection(request, metadata=auth(key))
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert f"metadata.{system_key}" in (refused.value.details() or "")
    listed = await stack.connections.ListConnections(pb.ListConnectionsRequest(), metadata=auth(key))
    assert [c.workspace_id for c in listed.items] == []


async def test_onboarding_facts_survive_an_ordinary_update(stack: Stack) -> None:
    key = await stack.key()
    stored = await stack.connections.StoreToken(
        pb.StoreTokenRequest(
            connector_id="salesforce",
            workspace_id="ws",
            token_set=pb.TokenSet(
                access_token="sf-token", metadata=_struct({"instance_url": "https://acme.my.salesforce.com"})
            ),
        ),
        metadata=auth(key),
    )
    assert dict(stored.connection.system_metadata) == {"instance_url": "https://acme.my.salesforce.com"}
    updated = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(connection_id=stored.connection.id, metadata=_struct({"owner": "ops"})),
        metadata=auth(key),
    )
    assert dict(updated.connection.system_metadata) == {"instance_url": "https://acme.my.salesforce.com"}
    assert dict(updated.connection.metadata) == {"owner": "ops"}


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        pytest.param({"cloud_id": "x"}, "token.metadata.cloud_id", id="not-a-token-response-field"),
        pytest.param({"instance_url": "ftp://files.example"}, "token.metadata.instance_url", id="not-http"),
        pytest.param({"instance_url": "https://good.example@127.0.0.1"}, "token.metadata.instance_url", id="userinfo"),
    ],
)
async def test_a_stored_token_set_keeps_only_the_providers_token_response_facts(
    stack: Stack, facts: dict, field: str
) -> None:
    key = await stack.key()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.connections.StoreToken(
            pb.StoreTokenRequest(
                connector_id="salesforce",
                workspace_id="ws",
                token_set=pb.TokenSet(access_token="sf-token", metadata=_struct(facts)),
            ),
            metadata=auth(key),
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "")


async def test_bad_metadata_keys_are_refused(stack: Stack) -> None:
    key = await stack.key()
    for bad in ({"a.b": 1}, {"$where": 1}, {"ok": {"": 1}}, {"big": "x" * 20000}):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.connections.UpsertConnection(
                pb.UpsertConnectionRequest(connector_id="github", workspace_id="ws", metadata=_struct(bad)),
                metadata=auth(key),
            )
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT, bad


async def test_records_from_before_system_metadata_are_adopted_once(stack: Stack) -> None:
    key = await stack.key()
    created = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(connector_id="jira", workspace_id="legacy"), metadata=auth(key)
    )
    collection = stack.db["connections"]
    await collection.update_one(
        {"_id": created.connection.id},
        {
            "$set": {"metadata": {"cloud_id": "c-1", "site_url": "https://acme.atlassian.net", "team": "core"}},
            "$unset": {"system_metadata": ""},
        },
    )
    store = ConnectionStore(stack.db)
    moved = await store.adopt_system_metadata(lambda connector_id: frozenset({"cloud_id", "site_url"}))
    assert moved == 1
    read = await stack.connections.GetConnection(
        pb.GetConnectionRequest(connection_id=created.connection.id), metadata=auth(key)
    )
    assert dict(read.connection.system_metadata) == {"cloud_id": "c-1", "site_url": "https://acme.atlassian.net"}
    assert dict(read.connection.metadata) == {"team": "core"}
    assert await store.adopt_system_metadata(lambda connector_id: frozenset()) == 0


def test_merge_patch_errors_are_ours() -> None:
    with pytest.raises(UcfError) as err:
        checked_user_patch({"cloud_id": "x"}, frozenset({"cloud_id"}))
    assert err.value.code is ErrorCode.INVALID_REQUEST and err.value.details == {"field": "metadata.cloud_id"}
