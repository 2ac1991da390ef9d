"""Webhooks end to end in one process: GitHub registration (secret only in the
vault), signed deliveries, replay and staleness, sync triggering, and
Standard Webhooks forwarding checked by an independent verifier."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import grpc
import pytest
from ucf.connector.v1 import connectors_pb2 as cpb
from ucf.connector.v1 import jobs_pb2 as jpb
from ucf.connector.v1 import webhooks_pb2 as pb
from ucf.vault.v1 import vault_pb2

from tests.connector_service.webhooks.conftest import Callback, HookEnv

REPO = "octo/repo1"


async def _register(env: HookEnv, callback_url: str = "") -> pb.RegisterWebhookResponse:
    return await env.stack.webhooks.RegisterWebhook(
        pb.RegisterWebhookRequest(
            connector_id="github",
            connection_id=env.connection_id,
            container_id=REPO,
            events=["issues", "issue_comment"],
            callback_url=callback_url,
        ),
        metadata=env.auth(),
    )


def _github_delivery(
    env: HookEnv, *, updated_at: dt.datetime | None = None, delivery_id: str | None = None, event: str = "issues"
) -> tuple[dict[str, str], bytes]:
    """A delivery signed the way GitHub signs it, with the secret GitHub was given."""
    secret = next(iter(env.github.hooks.values()))["config"]["secret"]
    moment = (updated_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps(
        {
            "action": "edited",
            "repository": {"full_name": REPO},
            "issue": {"number": 3, "title": "Edited", "updated_at": moment},
        }
    ).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }, body


async def _receive(env: HookEnv, webhook_id: str, headers: dict[str, str], body: bytes) -> pb.ReceiveWebhookResponse:
    # Public: no API key.
    return await env.stack.webhooks.ReceiveWebhook(
        pb.ReceiveWebhookRequest(webhook_id=webhook_id, headers=headers, body=body)
    )


async def _jobs(env: HookEnv) -> list[jpb.Job]:
    return list(
        (await env.stack.jobs.ListJobs(jpb.ListJobsRequest(connection_id=env.connection_id), metadata=env.auth())).items
    )


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Independent Standard Webhooks verification (as a tenant would write it)."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body.decode()}".encode()
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in given)


async def test_registration_hands_github_a_secret_kept_only_in_the_vault(hook_env: HookEnv) -> None:
    reply = await _register(hook_env, "https://tenant.example.test/hooks")
    assert reply.receiver_url == f"https://ucf.example.test/api/webhooks/{reply.webhook_id}"
    assert reply.callback_secret.startswith("whsec_")
    upstream = next(iter(hook_env.github.hooks.values()))
    assert upstream["config"]["url"] == reply.receiver_url
    provider_secret = upstream["config"]["secret"]
    stored = repr([d async for d in hook_env.stack.db["webhooks"].find()])
    assert provider_secret not in stored and reply.callback_secret not in stored
    assert provider_secret in hook_env.stack.vault.plaintexts()

    await hook_env.stack.webhooks.UnregisterWebhook(
        pb.UnregisterWebhookRequest(connector_id="github", webhook_id=reply.webhook_id), metadata=hook_env.auth()
    )
    assert hook_env.github.hooks == {}
    assert provider_secret not in hook_env.stack.vault.plaintexts()
    headers, body = _github_delivery_after_removal(provider_secret)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await _receive(hook_env, reply.webhook_id, headers, body)
    assert gone.value.code() is grpc.StatusCode.NOT_FOUND


def _github_delivery_after_removal(secret: str) -> tuple[dict[str, str], bytes]:
    body = b'{"zen": "still here?"}'
    return {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }, body


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != "X-Hub-Signature-256"}, b), id="missing"),
        pytest.param(lambda h, b: ({**h, "X-Hub-Signature-256": "sha256=" + "0" * 64}, b), id="wrong"),
        pytest.param(lambda h, b: (h, b.replace(b"Edited", b"Forged")), id="body-changed"),
    ],
)
async def test_a_missing_or_forged_signature_is_refused_and_nothing_happens(hook_env: HookEnv, mangle) -> None:
    reply = await _register(hook_env)
    headers, body = mangle(*_github_delivery(hook_env))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _receive(hook_env, reply.webhook_id, headers, body)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert await _jobs(hook_env) == []


async def test_the_same_delivery_twice_is_processed_once(hook_env: HookEnv) -> None:
    reply = await _register(hook_env)
    headers, body = _github_delivery(hook_env)
    first = await _receive(hook_env, reply.webhook_id, headers, body)
    again = await _receive(hook_env, reply.webhook_id, headers, body)
    assert (first.processed, again.processed) == (True, False)
    assert first.delivery_id == again.delivery_id == headers["X-GitHub-Delivery"]
    jobs = await _jobs(hook_env)
    assert [(j.type, list(j.params.containers), list(j.params.streams), j.params.full) for j in jobs] == [
        ("sync", [REPO], ["items"], False)
    ]


async def test_a_signed_body_replayed_under_a_new_delivery_id_is_a_duplicate(hook_env: HookEnv) -> None:
    """A captured delivery resent within the tolerance with a fresh `X-GitHub-Delivery`."""
    reply = await _register(hook_env)
    headers, body = _github_delivery(hook_env)
    first = await _receive(hook_env, reply.webhook_id, headers, body)
    replayed = await _receive(hook_env, reply.webhook_id, {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}, body)
    assert (first.processed, replayed.processed) == (True, False)
    assert len(await _jobs(hook_env)) == 1
    other_headers, other_body = _github_delivery(hook_env, updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))
    assert (await _receive(hook_env, reply.webhook_id, other_headers, other_body)).processed  # a new event still is


async def test_a_stale_delivery_is_refused(hook_env: HookEnv) -> None:
    reply = await _register(hook_env)
    headers, body = _github_delivery(hook_env, updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await _receive(hook_env, reply.webhook_id, headers, body)
    assert stale.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "stale" in stale.value.details()


async def test_a_forwarded_event_verifies_with_the_tenant_secret(hook_env: HookEnv, callback: Callback) -> None:
    reply = await _register(hook_env, callback.url)
    headers, body = _github_delivery(hook_env, event="issue_comment")
    await _receive(hook_env, reply.webhook_id, headers, body)
    await asyncio.to_thread(callback.arrived.wait, 20)
    ((sent_headers, sent_body),) = callback.received
    assert verify_standard_webhook(reply.callback_secret, sent_headers, sent_body)
    assert not verify_standard_webhook("whsec_" + base64.b64encode(b"x" * 32).decode(), sent_headers, sent_body)
    event = json.loads(sent_body)
    assert event["type"] == "issue_comment.edited"
    assert event["data"]["deliveryId"] == headers["X-GitHub-Delivery"]
    assert event["data"]["payload"]["issue"]["number"] == 3
    jobs = await _jobs(hook_env)
    assert [list(j.params.streams) for j in jobs] == [["items", "comments"]]


async def test_a_callback_that_keeps_failing_ends_as_a_dead_letter(hook_env: HookEnv, callback: Callback) -> None:
    callback.status = 503
    reply = await _register(hook_env, callback.url)
    headers, body = _github_delivery(hook_env)
    await _receive(hook_env, reply.webhook_id, headers, body)
    while True:
        letters = await hook_env.stack.webhooks.ListDeadLetters(
            pb.ListDeadLettersRequest(webhook_id=reply.webhook_id), metadata=hook_env.auth()
        )
        if letters.items:
            break
        await asyncio.sleep(0.05)
    (letter,) = letters.items
    assert (letter.delivery_id, letter.attempts, letter.callback_url) == (headers["X-GitHub-Delivery"], 3, callback.url)
    assert "503" in letter.last_error
    assert len(callback.received) == 3
    assert len({h["webhook-id"] for h, _ in callback.received}) == 1


async def test_providers_without_registrable_webhooks_explain_why(hook_env: HookEnv) -> None:
    jira = await hook_env.stack.connectors.ConnectCallback(
        cpb.ConnectCallbackRequest(connector_id="jira", workspace_id="site", api_key="jira-token"),
        metadata=hook_env.auth(),
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await hook_env.stack.webhooks.RegisterWebhook(
            pb.RegisterWebhookRequest(connector_id="jira", connection_id=jira.connection_id, container_id="PROJ"),
            metadata=hook_env.auth(),
        )
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "OAuth 2.0" in refused.value.details()
    assert all(kind != vault_pb2.SECRET_KIND_WEBHOOK_SIGNING_SECRET for _, _, kind in hook_env.stack.vault.secrets)
