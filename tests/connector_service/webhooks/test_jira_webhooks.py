"""Jira dynamic webhooks end to end in one process against the strict Jira fake:
registration through the API gateway with the OAuth token, deliveries
authenticated by the JWT Jira signs with the tenant's OAuth client secret,
sync triggering, removal, refresh before the 30-day expiry, and the 412 for
API-token connections."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from connector_service.connectors.jira import JiraConnector
from connector_service.connectors.registry import ConnectorRegistry
from google.protobuf import struct_pb2
from ucf.connector.v1 import connections_pb2 as conn_pb
from ucf.connector.v1 import connectors_pb2 as cpb
from ucf.connector.v1 import jobs_pb2 as jpb
from ucf.connector.v1 import webhooks_pb2 as pb
from ucf.vault.v1 import vault_pb2

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes.jira_server import API_TOKEN, CLOUD_ID, EMAIL, OAUTH_TOKEN, FakeJira, jwt_hs256

CLIENT_SECRET = "jira-app-client-secret-0123456789"
PROJECT = "10000"


@dataclass
class JiraEnv:
    stack: Stack
    jira: FakeJira
    key: str
    connection_id: str

    def auth(self) -> list[tuple[str, str]]:
        return auth(self.key)


@pytest.fixture
async def jira_env(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[JiraEnv]:
    fake = FakeJira(projects=2, issues_per_project=3, comments_per_issue=1)
    with fake.serve():
        providers = tmp_path / "providers.yaml"
        providers.write_text(f"""
providers:
  jira:
    display_name: Jira (test)
    auth_mode: oauth2
    extra_auth_modes: [basic]
    authorization_url: {fake.base_url}/authorize
    token_url: {fake.base_url}/oauth/token
    default_scopes: [read:jira-work, manage:jira-webhook]
    scope_separator: " "
    base_url: {fake.base_url}
    connection_metadata:
      url: {fake.base_url}/oauth/token/accessible-resources
      fields: {{cloud_id: id, site_url: url, site_name: name}}
    modes:
      basic:
        credential_fields:
          - {{name: site, label: Site URL, type: url}}
          - {{name: email, label: Email, type: string}}
          - {{name: api_token, label: API token, type: password, secret: true}}
        verification:
          url: "{{site}}/rest/api/3/myself"
          headers: {{Accept: application/json}}
          basic_auth: {{username: "{{email}}", password: "{{api_token}}"}}
""")
        settings = {"ucf_job_concurrency": 0, "ucf_public_url": "https://ucf.example.test"}
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                providers_file=providers,
                registry=ConnectorRegistry([JiraConnector]),
                **settings,
            ) as stack,
        ):
            key = await stack.key()
            await stack.connectors.UpdateConnector(
                cpb.UpdateConnectorRequest(
                    connector_id="jira", oauth=cpb.OAuthSettings(client_id="jira-app", client_secret=CLIENT_SECRET)
                ),
                metadata=auth(key),
            )
            conn = await stack.connections.UpsertConnection(
                conn_pb.UpsertConnectionRequest(connector_id="jira", workspace_id="acme"), metadata=auth(key)
            )
            await stack.connections.StoreToken(
                conn_pb.StoreTokenRequest(
                    connection_id=conn.connection.id,
                    token_set=conn_pb.TokenSet(
                        access_token=OAUTH_TOKEN, token_type="Bearer", scope="read:jira-work manage:jira-webhook"
                    ),
                ),
                metadata=auth(key),
            )
            yield JiraEnv(stack, fake, key, conn.connection.id)


async def _register(env: JiraEnv, container: str = PROJECT, events: tuple[str, ...] = ()) -> pb.RegisterWebhookResponse:
    return await env.stack.webhooks.RegisterWebhook(
        pb.RegisterWebhookRequest(
            connector_id="jira", connection_id=env.connection_id, container_id=container, events=list(events)
        ),
        metadata=env.auth(),
    )


async def _receive(env: JiraEnv, webhook_id: str, headers: dict[str, str], body: bytes) -> pb.ReceiveWebhookResponse:
    return await env.stack.webhooks.ReceiveWebhook(
        pb.ReceiveWebhookRequest(webhook_id=webhook_id, headers=headers, body=body)
    )


async def _jobs(env: JiraEnv) -> list[tuple[str, list[str], list[str], bool]]:
    jobs = (
        await env.stack.jobs.ListJobs(jpb.ListJobsRequest(connection_id=env.connection_id), metadata=env.auth())
    ).items
    return sorted((j.type, list(j.params.containers), list(j.params.streams), j.params.full) for j in jobs)


def _webhook_secrets(env: JiraEnv) -> list[str]:
    return [owner for _, owner, kind in env.stack.vault.secrets if kind == vault_pb2.SECRET_KIND_WEBHOOK_SIGNING_SECRET]


def _upstream(env: JiraEnv) -> dict:
    (hook,) = env.jira.webhooks.values()
    return hook


async def test_registration_creates_a_dynamic_webhook_for_the_project_through_the_gateway(jira_env: JiraEnv) -> None:
    reply = await _register(jira_env)

    hook = _upstream(jira_env)
    # The (tenant, connector) app's one receiver URL, not one per webhook (Jira allows one URL per app).
    assert hook["url"] == reply.receiver_url
    assert reply.receiver_url.startswith("https://ucf.example.test/api/webhooks/wha_")
    assert hook["jqlFilter"] == f"project = {PROJECT}"
    assert hook["events"] == [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
    ]
    posted = [s for s in jira_env.jira.seen if s.method == "POST" and s.path.endswith("/rest/api/3/webhook")]
    assert [s.path for s in posted] == [f"/ex/jira/{CLOUD_ID}/rest/api/3/webhook"]
    assert posted[0].headers["authorization"] == f"Bearer {OAUTH_TOKEN}"
    doc = await jira_env.stack.db["webhooks"].find_one({"_id": reply.webhook_id})
    assert doc["upstream_id"] == str(hook["id"])
    # The expiry Jira lists for the webhook is recorded for the refresher.
    stored = doc["expires_at"].replace(tzinfo=dt.UTC) if doc["expires_at"].tzinfo is None else doc["expires_at"]
    assert int(stored.timestamp() * 1000) == int(hook["expires"].timestamp() * 1000)
    assert CLIENT_SECRET not in repr(doc)


async def test_a_signed_delivery_is_accepted_once_and_syncs_the_affected_stream(jira_env: JiraEnv) -> None:
    reply = await _register(jira_env)
    upstream_id = _upstream(jira_env)["id"]
    headers, body = jira_env.jira.delivery(upstream_id, "jira:issue_updated", CLIENT_SECRET)

    first = await _receive(jira_env, reply.webhook_id, headers, body)
    again = await _receive(jira_env, reply.webhook_id, headers, body)

    assert (first.processed, again.processed) == (True, False)
    assert first.delivery_id == headers["X-Atlassian-Webhook-Identifier"]
    assert await _jobs(jira_env) == [("sync", [PROJECT], ["items"], False)]

    headers, body = jira_env.jira.delivery(upstream_id, "comment_created", CLIENT_SECRET)
    assert (await _receive(jira_env, reply.webhook_id, headers, body)).processed
    assert await _jobs(jira_env) == [
        ("sync", [PROJECT], ["items"], False),
        ("sync", [PROJECT], ["items", "comments"], False),
    ]


def _resigned(headers: dict[str, str], secret: str, claims: dict) -> dict[str, str]:
    return {**headers, "Authorization": "Bearer " + jwt_hs256(secret, claims)}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda h, b, other: ({k: v for k, v in h.items() if k != "Authorization"}, b), id="missing"),
        pytest.param(
            lambda h, b, other: (_resigned(h, "not-the-client-secret", {"exp": 4102444800}), b), id="wrong-secret"
        ),
        pytest.param(
            lambda h, b, other: ({**h, "Authorization": h["Authorization"][:-4] + "AAAA"}, b), id="tampered-signature"
        ),
        pytest.param(lambda h, b, other: ({**h, "Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}, b), id="alg-none"),
        pytest.param(lambda h, b, other: (_resigned(h, CLIENT_SECRET, {"exp": 946684800}), b), id="expired-jwt"),
        pytest.param(
            lambda h, b, other: (h, b.replace(f"[{other[0]}]".encode(), f"[{other[1]}]".encode())),
            id="meant-for-another-webhook",
        ),
    ],
)
async def test_a_forged_or_missing_signature_is_refused_and_nothing_is_queued(jira_env: JiraEnv, forge) -> None:
    reply = await _register(jira_env)
    upstream_id = _upstream(jira_env)["id"]
    headers, body = jira_env.jira.delivery(upstream_id, "jira:issue_created", CLIENT_SECRET)
    headers, body = forge(headers, body, (upstream_id, upstream_id + 1))

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _receive(jira_env, reply.webhook_id, headers, body)

    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert CLIENT_SECRET not in refused.value.details()
    assert await _jobs(jira_env) == []
    assert await jira_env.stack.db["webhook_deliveries"].count_documents({}) == 0


async def test_unregister_removes_the_webhook_upstream_and_here(jira_env: JiraEnv) -> None:
    reply = await _register(jira_env)
    upstream_id = _upstream(jira_env)["id"]

    await jira_env.stack.webhooks.UnregisterWebhook(
        pb.UnregisterWebhookRequest(connector_id="jira", webhook_id=reply.webhook_id), metadata=jira_env.auth()
    )

    assert jira_env.jira.webhooks == {}
    assert jira_env.jira.calls("/rest/api/3/webhook", method="DELETE") == 1
    assert _webhook_secrets(jira_env) == []
    headers, body = jira_env.jira.delivery(upstream_id, "jira:issue_updated", CLIENT_SECRET)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await _receive(jira_env, reply.webhook_id, headers, body)
    assert gone.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_webhook_near_expiry_is_refreshed_upstream(jira_env: JiraEnv) -> None:
    reply = await _register(jira_env)
    hook = _upstream(jira_env)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    hook["expires"] = soon
    await jira_env.stack.db["webhooks"].update_one({"_id": reply.webhook_id}, {"$set": {"expires_at": soon}})
    refresher = jira_env.stack.server.background.refresher

    assert await refresher.refresh_due() == 1
    assert await refresher.refresh_due() == 0  # now far from expiry: nothing more to do

    assert jira_env.jira.calls("/rest/api/3/webhook/refresh", method="PUT") == 1
    assert hook["expires"] > soon
    doc = await jira_env.stack.db["webhooks"].find_one({"_id": reply.webhook_id})
    stored = doc["expires_at"].replace(tzinfo=dt.UTC) if doc["expires_at"].tzinfo is None else doc["expires_at"]
    assert int(stored.timestamp() * 1000) == int(hook["expires"].timestamp() * 1000)


async def test_unsupported_events_and_projects_jira_refuses_leave_nothing_behind(jira_env: JiraEnv) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as unknown_event:
        await _register(jira_env, events=("jira:issue_created", "repo:push"))
    assert unknown_event.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "repo:push" in unknown_event.value.details()

    with pytest.raises(grpc.aio.AioRpcError) as unknown_project:
        await _register(jira_env, container="NOPE")
    assert unknown_project.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "Jira refused the webhook" in unknown_project.value.details()
    assert "NOPE" in unknown_project.value.details()

    assert jira_env.jira.webhooks == {}
    assert _webhook_secrets(jira_env) == []
    assert await jira_env.stack.db["webhooks"].count_documents({}) == 0


async def test_an_api_token_connection_gets_412_saying_dynamic_webhooks_need_oauth(jira_env: JiraEnv) -> None:
    form = struct_pb2.Struct()
    form.update({"site": jira_env.jira.base_url, "email": EMAIL, "api_token": API_TOKEN})
    basic = await jira_env.stack.connectors.ConnectCallback(
        cpb.ConnectCallbackRequest(connector_id="jira", workspace_id="basic-site", method="basic", credentials=form),
        metadata=jira_env.auth(),
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await jira_env.stack.webhooks.RegisterWebhook(
            pb.RegisterWebhookRequest(connector_id="jira", connection_id=basic.connection_id, container_id=PROJECT),
            metadata=jira_env.auth(),
        )

    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "OAuth 2.0" in refused.value.details() and "basic" in refused.value.details()
    assert jira_env.jira.calls("/webhook") == 0
    assert _webhook_secrets(jira_env) == []


async def test_two_webhooks_of_one_app_share_one_url_and_deliveries_are_routed_by_matched_ids_and_site(
    jira_env: JiraEnv,
) -> None:
    first, second = await _register(jira_env, container="10000"), await _register(jira_env, container="10001")
    hooks = sorted(jira_env.jira.webhooks.values(), key=lambda h: h["id"])
    assert len(hooks) == 2 and first.webhook_id != second.webhook_id
    # Jira would refuse a second URL by the same app; both are registered with the app's one URL.
    assert {h["url"] for h in hooks} == {first.receiver_url} == {second.receiver_url}
    receiver = first.receiver_url.rsplit("/", 1)[1]
    issue_of = {
        p: next(i for i in jira_env.jira.issues.values() if i["fields"]["project"]["id"] == p)["id"]
        for p in ("10000", "10001")
    }

    headers, body = jira_env.jira.delivery(
        hooks[1]["id"], "jira:issue_updated", CLIENT_SECRET, issue_id=issue_of["10001"]
    )
    assert (await _receive(jira_env, receiver, headers, body)).processed
    assert await _jobs(jira_env) == [("sync", ["10001"], ["items"], False)]
    delivered = await jira_env.stack.db["webhook_deliveries"].find({}).to_list(10)
    assert [d["webhook_id"] for d in delivered] == [second.webhook_id]

    headers, body = jira_env.jira.delivery(hooks[0]["id"], "comment_created", CLIENT_SECRET, issue_id=issue_of["10000"])
    assert (await _receive(jira_env, receiver, headers, body)).processed
    assert await _jobs(jira_env) == [
        ("sync", ["10000"], ["items", "comments"], False),
        ("sync", ["10001"], ["items"], False),
    ]

    # The same webhook id on another site is another app installation's: not routed here.
    headers, body = jira_env.jira.delivery(
        hooks[0]["id"], "jira:issue_updated", CLIENT_SECRET, site="https://other.atlassian.net"
    )
    with pytest.raises(grpc.aio.AioRpcError) as elsewhere:
        await _receive(jira_env, receiver, headers, body)
    assert elsewhere.value.code() is grpc.StatusCode.NOT_FOUND
    # And a forged signature on the shared URL is refused like on a webhook's own.
    headers, body = jira_env.jira.delivery(hooks[0]["id"], "jira:issue_updated", "not-the-client-secret")
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await _receive(jira_env, receiver, headers, body)
    assert forged.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert len(await _jobs(jira_env)) == 2


async def test_the_fake_refuses_a_second_url_by_the_same_app(jira_env: JiraEnv) -> None:
    await _register(jira_env)
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            f"{jira_env.jira.base_url}/ex/jira/{CLOUD_ID}/rest/api/3/webhook",
            headers={"Authorization": f"Bearer {OAUTH_TOKEN}"},
            json={
                "url": "https://elsewhere.example.test/hook",
                "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = 10000"}],
            },
        )
    assert refused.status_code == 400
    assert "single URL" in refused.text
    assert len(jira_env.jira.webhooks) == 1
