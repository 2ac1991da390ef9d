"""Cross-process refresh coordination against a real MongoDB-protocol server and the strict fake.

Two `RefreshCoordinator`s with their own owner ids and their own `AsyncMongoClient`s stand for
two connector-service processes; they share the credential store as two processes share the vault.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from connector_service.oauth import (
    OAuthClient,
    OAuthUpstreamError,
    RefreshCoordinator,
    RefreshFailed,
    RefreshFailureReason,
    TokenSet,
)
from pymongo import AsyncMongoClient

from tests.connector_service.oauth.conftest import (
    CLIENTS,
    connect,
    endpoints,
    register_clients,
)
from tests.connector_service.oauth.memory_store import (
    FrozenSaves,
    MemoryCredentialStore,
)
from tests.fakes.oauth_server import FakeOAuthServer

TENANT, CONNECTION = "tenant-a", "conn-1"


@pytest.fixture
async def databases(mongo_url, db_suffix) -> AsyncIterator[list]:
    """The same database seen through two clients, one per simulated process."""
    clients = [AsyncMongoClient(mongo_url), AsyncMongoClient(mongo_url)]
    yield [c[f"ucf_{db_suffix}"] for c in clients]
    await clients[0].drop_database(f"ucf_{db_suffix}")
    for client in clients:
        await client.close()


def expired(tokens: TokenSet) -> TokenSet:
    return dataclasses.replace(tokens, expires_at=datetime.now(UTC) - timedelta(seconds=5))


async def onboard(http, server, store) -> TokenSet:
    """Connect an account through the fake and store its credential, already expired."""
    tokens = expired(await connect(http, server))
    store.put(TENANT, CONNECTION, tokens)
    return tokens


async def until(condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def refresher(http, server) -> OAuthClient:
    return OAuthClient(http, endpoints(server), CLIENTS["client_secret_basic"])


async def test_fifty_readers_in_two_processes_share_one_refresh(http, oauth_server, databases):
    store = MemoryCredentialStore()
    old = await onboard(http, oauth_server, store)
    first, second = (RefreshCoordinator(db, store, owner_id=f"process-{i}") for i, db in enumerate(databases))
    oauth_server.slow("token", 0.3)  # keep the refresh in flight while readers pile up
    client = refresher(http, oauth_server)

    results = await asyncio.gather(
        *((first if i % 2 else second).get_fresh(TENANT, CONNECTION, client) for i in range(50))
    )

    assert oauth_server.calls["token:refresh_token"] == 1
    assert oauth_server.reuse_detected == 0
    assert {r.tokens.access_token for r in results} == {results[0].tokens.access_token}
    assert results[0].tokens.access_token != old.access_token
    assert oauth_server.is_active(results[0].tokens.access_token)
    stored = await store.load(TENANT, CONNECTION)
    assert stored.version == 2 and store.saves == 1
    assert stored.tokens.refresh_token not in (None, old.refresh_token)
    assert not stored.tokens.expires_within(300)


async def test_fresh_credential_is_served_without_calling_the_provider(http, oauth_server, databases):
    store = MemoryCredentialStore()
    store.put(TENANT, CONNECTION, await connect(http, oauth_server))
    got = await RefreshCoordinator(databases[0], store).get_fresh(TENANT, CONNECTION, refresher(http, oauth_server))
    assert got.version == 1 and oauth_server.calls["token:refresh_token"] == 0


async def test_force_refresh_refreshes_a_fresh_credential(http, oauth_server, databases):
    store = MemoryCredentialStore()
    original = await connect(http, oauth_server)
    store.put(TENANT, CONNECTION, original)
    got = await RefreshCoordinator(databases[0], store).get_fresh(
        TENANT, CONNECTION, refresher(http, oauth_server), force=True
    )
    assert got.version == 2 and got.tokens.access_token != original.access_token
    assert got.tokens.scope == original.scope
    assert oauth_server.calls["token:refresh_token"] == 1


async def test_crash_after_provider_answer_does_not_replay_the_stale_refresh_token(http, oauth_server, databases):
    store = MemoryCredentialStore()
    await onboard(http, oauth_server, store)
    crashing_view = FrozenSaves(store)
    crashing = RefreshCoordinator(databases[0], crashing_view, owner_id="crashes", lease_seconds=1)
    survivor = RefreshCoordinator(databases[1], store, owner_id="survives", lease_seconds=1)
    client = refresher(http, oauth_server)

    doomed = asyncio.create_task(crashing.get_fresh(TENANT, CONNECTION, client))
    await until(lambda: oauth_server.calls["token:refresh_token"] == 1, "the provider rotated the token")

    with pytest.raises(RefreshFailed) as info:
        await survivor.get_fresh(TENANT, CONNECTION, client)
    assert info.value.reason is RefreshFailureReason.RESULT_LOST
    with pytest.raises(RefreshFailed):  # every later reader learns it without asking the provider
        await survivor.get_fresh(TENANT, CONNECTION, client)
    assert oauth_server.calls["token:refresh_token"] == 1
    assert oauth_server.reuse_detected == 0

    doomed.cancel()
    crashing_view.thaw()
    await crashing.wait_idle()

    # Reconnecting stores a new credential; the lost-result marker no longer applies to it.
    store.put(TENANT, CONNECTION, expired(await connect(http, oauth_server)))
    recovered = await survivor.get_fresh(TENANT, CONNECTION, client)
    assert oauth_server.is_active(recovered.tokens.access_token)
    assert oauth_server.reuse_detected == 0


async def test_unanswered_refresh_is_not_replayed(oauth_server, databases):
    store = MemoryCredentialStore()
    async with httpx.AsyncClient(timeout=10) as patient:
        await onboard(patient, oauth_server, store)
    oauth_server.slow("token", 1.0)
    coordinator = RefreshCoordinator(databases[0], store)
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        client = refresher(impatient, oauth_server)
        for _ in range(2):
            with pytest.raises(RefreshFailed) as info:
                await coordinator.get_fresh(TENANT, CONNECTION, client)
            assert info.value.reason is RefreshFailureReason.RESULT_LOST
    assert oauth_server.calls["token:refresh_token"] == 1 and oauth_server.reuse_detected == 0


async def test_lost_result_is_retried_when_the_provider_does_not_rotate(http, databases):
    server = FakeOAuthServer(rotate_refresh_tokens=False)
    register_clients(server)
    store = MemoryCredentialStore()
    coordinator = RefreshCoordinator(databases[0], store)
    with server.serve():
        await onboard(http, server, store)
        first = await coordinator.get_fresh(TENANT, CONNECTION, refresher(http, server))  # learns: no rotation
        store.put(TENANT, CONNECTION, expired(first.tokens))
        server.slow("token", 1.0)
        async with httpx.AsyncClient(timeout=0.2) as impatient:
            with pytest.raises(OAuthUpstreamError) as info:
                await coordinator.get_fresh(TENANT, CONNECTION, refresher(impatient, server))
        assert info.value.outcome_unknown is False  # recorded as transient: retrying is safe here
        server.slow("token", 0)
        again = await coordinator.get_fresh(TENANT, CONNECTION, refresher(http, server))
    assert server.is_active(again.tokens.access_token)
    assert server.calls["token:refresh_token"] == 3


async def test_rejected_refresh_token_fails_every_reader_once(http, oauth_server, databases):
    store = MemoryCredentialStore()
    tokens = await onboard(http, oauth_server, store)
    await refresher(http, oauth_server).revoke(tokens.refresh_token, token_type_hint="refresh_token")
    first, second = (RefreshCoordinator(db, store) for db in databases)
    for coordinator in (first, second, first):
        with pytest.raises(RefreshFailed) as info:
            await coordinator.get_fresh(TENANT, CONNECTION, refresher(http, oauth_server))
        assert info.value.reason is RefreshFailureReason.PROVIDER_REJECTED
        assert info.value.details["providerError"] == "invalid_grant"
    assert oauth_server.calls["token:refresh_token"] == 1


async def test_upstream_outage_serves_a_still_valid_token(http, oauth_server, databases):
    store = MemoryCredentialStore()
    tokens = dataclasses.replace(
        await connect(http, oauth_server), expires_at=datetime.now(UTC) + timedelta(seconds=120)
    )
    store.put(TENANT, CONNECTION, tokens)
    oauth_server.fail_next("token", 503)
    coordinator = RefreshCoordinator(databases[0], store)
    got = await coordinator.get_fresh(TENANT, CONNECTION, refresher(http, oauth_server))
    assert got.version == 1 and got.tokens.access_token == tokens.access_token
    later = await coordinator.get_fresh(TENANT, CONNECTION, refresher(http, oauth_server))
    assert later.version == 2  # the outage was not recorded as permanent


async def test_no_secret_reaches_the_logs(http, oauth_server, databases, caplog):
    caplog.set_level(logging.DEBUG)
    store = MemoryCredentialStore()
    old = await onboard(http, oauth_server, store)
    client = refresher(http, oauth_server)
    got = await RefreshCoordinator(databases[0], store).get_fresh(TENANT, CONNECTION, client)
    await client.revoke(got.tokens.refresh_token, token_type_hint="refresh_token")
    with pytest.raises(RefreshFailed):
        await RefreshCoordinator(databases[1], store).get_fresh(TENANT, CONNECTION, client, force=True)

    canaries = {
        old.access_token,
        old.refresh_token,
        got.tokens.access_token,
        got.tokens.refresh_token,
        CLIENTS["client_secret_basic"].client_secret,
    }
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')} {r.exc_text or ''}" for r in caplog.records)
    assert "token refreshed" in logged  # the logs did capture the refresh
    assert not [c for c in canaries if c in logged]
