"""`Connection.from_document` reads every field `ConnectionStore` writes, and a record from
before a field existed reads as that field's default."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from connector_service.connections.model import INVALID, PENDING, Connection
from connector_service.connections.store import ConnectionStore
from connector_service.platform import wire
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
async def db(mongo_url: str, db_suffix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        yield client[f"ucf_model_{db_suffix}"]
    finally:
        await client.drop_database(f"ucf_model_{db_suffix}")
        await client.close()


def _as_document_keys(conn: Connection) -> dict[str, Any]:
    values = {("_id" if f.name == "id" else f.name): getattr(conn, f.name) for f in dataclasses.fields(conn)}
    values["scopes"] = list(conn.scopes)
    return values


async def test_a_stored_connection_reads_back_with_every_field(db: AsyncDatabase[dict[str, Any]]) -> None:
    store = ConnectionStore(db)
    labels = {
        "end_user": {"id": "u-1", "email": "u@example.test"},
        "tags": {"team": "core"},
        "connect_session_id": "cs_1",
    }
    created, _ = await store.ensure(
        "acme", "github", "ws-1", auth_mode="oauth2", name="GitHub", metadata={"owner": "ops"}, labels=labels
    )
    expires = wire.now() + timedelta(hours=1)
    await store.record_credential(
        "acme", created.id, kind="oauth2", expires_at=expires, scopes=["repo"], system_metadata={"login": "octo"}
    )
    await store.record_credential(
        "acme", created.id, kind="oauth2", expires_at=expires, scopes=["repo"], refreshed=True, system_metadata={}
    )
    await store.set_status(
        "acme", created.id, INVALID, "the provider rejected the credential", last_validated_at=wire.now()
    )

    raw = await db["connections"].find_one({"_id": created.id, "tenant_id": "acme"})
    assert raw is not None
    conn = await store.get("acme", created.id)

    # Every document field is an attribute with the stored value, and nothing else is.
    assert _as_document_keys(conn) == raw
    # ...and none of them is left at its default, so a field dropped by from_document shows above.
    defaults = Connection(id="", tenant_id="", connector_id="", workspace_id="", status=PENDING)
    unset = [f.name for f in dataclasses.fields(conn) if getattr(conn, f.name) == getattr(defaults, f.name)]
    assert unset == []
    assert conn.status == INVALID and conn.credential_expires_at == expires
    assert conn.end_user == labels["end_user"] and conn.tags == {"team": "core"}


async def test_list_find_and_update_answer_the_same_record(db: AsyncDatabase[dict[str, Any]]) -> None:
    store = ConnectionStore(db)
    created, was_created = await store.ensure("acme", "github", "ws-1", auth_mode="oauth2")
    again, created_again = await store.ensure("acme", "github", "ws-1", auth_mode="oauth2")
    page, _ = await store.list("acme")
    assert was_created and not created_again
    assert again == created and page == [created]
    assert await store.find("acme", "github", "ws-1") == created
    assert await store.find_by_id("other", created.id) is None
    renamed = await store.update("acme", created.id, name="renamed")
    assert renamed.name == "renamed" and renamed.updated_at is not None and renamed.created_at == created.created_at


def test_a_record_from_before_a_field_existed_reads_as_its_default() -> None:
    conn = Connection.from_document(
        {"_id": "con_1", "tenant_id": "acme", "connector_id": "github", "workspace_id": "ws", "status": "connected"}
    )
    assert conn.metadata == {} and conn.system_metadata == {} and conn.scopes == ()
    assert conn.credential_kind is None and not conn.has_credential and not conn.is_revoked
    assert conn.name == "" and conn.auth_mode == "" and conn.end_user == {} and conn.tags == {}
