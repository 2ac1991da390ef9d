"""Each REST route calls its RPC with the request mapped from path, query and
lowerCamelCase JSON, and answers the reply's protobuf JSON mapping in the
envelope: single resources unwrapped, lists as {items, next}.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from ucf.connector.v1 import connections_pb2 as conn
from ucf.connector.v1 import connectors_pb2 as ctr
from ucf.connector.v1 import jobs_pb2 as jobs
from ucf.connector.v1 import resources_pb2 as res
from ucf.connector.v1 import webhooks_pb2 as wh

from tests.gateway.fakes import FakeConnectorService

CONNECTION = conn.Connection(id="c1", tenant_id="t1", workspace_id="w1", connector_id="jira", status="connected")
CONNECTOR = ctr.Connector(id="jira", display_name="Jira", auth_modes=[ctr.AUTH_MODE_OAUTH2], enabled=True)
JOB = jobs.Job(id="j1", connector_id="jira", connection_id="c1", type="sync", status="queued",
               counts=jobs.JobCounts(added=3))  # fmt: skip
ITEM = res.Item(id="PROJ-1", container_id="PROJ", title="Bug", body=res.Body(text="hi", format="plain"))
COMMENT = res.Comment(id="10", item_id="PROJ-1", body=res.Body(text="ok", format="plain"))


def case(
    id: str,
    method: str,
    path: str,
    rpc: str,
    sent: dict[str, Any],
    reply: Message,
    data: dict[str, Any],
    status: int = 200,
    **http: Any,
) -> Any:
    return pytest.param(method, path, http, rpc, sent, reply, data, status, id=id)


CASES = [
    # connectors
    case("list-connectors", "GET", "/api/connectors", "ListConnectors", {},
         ctr.ListConnectorsResponse(items=[CONNECTOR]),
         {"items": [{"id": "jira", "displayName": "Jira", "authModes": ["oauth2"], "enabled": True}]}),
    case("get-connector", "GET", "/api/connectors/jira", "GetConnector", {"connectorId": "jira"},
         ctr.GetConnectorResponse(connector=CONNECTOR), {"id": "jira", "displayName": "Jira"}),
    case("patch-connector", "PATCH", "/api/connectors/jira", "UpdateConnector",
         {"connectorId": "jira", "enabled": False,
          "oauth": {"clientId": "cid", "clientSecret": "s3cr3t", "scopes": ["read:jira-work"]}},
         ctr.UpdateConnectorResponse(connector=CONNECTOR), {"id": "jira"},
         json={"enabled": False, "oauth": {"clientId": "cid", "clientSecret": "s3cr3t", "scopes": ["read:jira-work"]}}),
    case("probe", "POST", "/api/connectors/postgres/probe", "ProbeConnector",
         {"connectorId": "postgres", "connectionId": "c1", "config": {"schemas": ["public"]}},
         ctr.ProbeConnectorResponse(connector_id="postgres", capabilities=["items"]),
         {"connectorId": "postgres", "capabilities": ["items"]},
         json={"connectionId": "c1", "config": {"schemas": ["public"]}}),
    case("connect", "POST", "/api/connectors/jira/connect", "Connect",
         {"connectorId": "jira", "workspaceId": "w1", "method": "oauth2", "redirectUri": "https://app/cb",
          "scopes": ["a", "b"], "returnUrl": "https://app/done"},
         ctr.ConnectResponse(method="oauth2", auth_url="https://auth/x", state="st"),
         {"method": "oauth2", "authUrl": "https://auth/x", "state": "st"},
         json={"workspaceId": "w1", "method": "oauth2", "redirectUri": "https://app/cb", "scopes": ["a", "b"],
               "returnUrl": "https://app/done"}),
    case("connect-callback", "POST", "/api/connectors/jira/connect/callback", "ConnectCallback",
         {"connectorId": "jira", "workspaceId": "w1", "code": "abc", "state": "st", "iss": "https://issuer"},
         ctr.ConnectCallbackResponse(connection_id="c1", status="connected"),
         {"connectionId": "c1", "status": "connected"},
         json={"workspaceId": "w1", "code": "abc", "state": "st", "iss": "https://issuer"}),
    case("connect-callback-credentials", "POST", "/api/connectors/postgres/connect/callback", "ConnectCallback",
         {"connectorId": "postgres", "workspaceId": "w1", "method": "credentials",
          "credentials": {"host": "db", "port": 5432.0}},
         ctr.ConnectCallbackResponse(connection_id="c2", status="connected"), {"connectionId": "c2"},
         json={"workspaceId": "w1", "method": "credentials", "credentials": {"host": "db", "port": 5432}}),
    case("validate-connector", "POST", "/api/connectors/jira/validate", "ValidateConnector",
         {"connectorId": "jira", "connectionId": "c1"},
         ctr.ValidateConnectorResponse(connection_id="c1", valid=False, status="invalid"),
         {"connectionId": "c1", "valid": False, "status": "invalid"}, json={"connectionId": "c1"}),
    case("revoke-connector", "POST", "/api/connectors/jira/revoke", "RevokeConnector",
         {"connectorId": "jira", "connectionId": "c1"},
         ctr.RevokeConnectorResponse(connection_id="c1", status="revoked", revoked_upstream=True),
         {"connectionId": "c1", "status": "revoked", "revokedUpstream": True}, json={"connectionId": "c1"}),
    # resources
    case("containers", "GET", "/api/connectors/jira/containers", "ListContainers",
         {"connectorId": "jira", "connectionId": "c1", "cursor": "p2", "limit": 50, "parentId": "root"},
         res.ListContainersResponse(items=[res.Container(id="PROJ", name="Project")], next="p3"),
         {"items": [{"id": "PROJ", "name": "Project"}], "next": "p3"},
         params={"connectionId": "c1", "cursor": "p2", "limit": "50", "parentId": "root"}),
    case("items", "GET", "/api/connectors/jira/items", "ListItems",
         {"connectorId": "jira", "connectionId": "c1", "containerId": "PROJ", "limit": 200,
          "updatedSince": "2025-01-02T03:04:05Z"},
         res.ListItemsResponse(items=[ITEM]), {"items": [{"id": "PROJ-1", "title": "Bug"}], "next": ""},
         params={"connectionId": "c1", "containerId": "PROJ", "limit": "200",
                 "updatedSince": "2025-01-02T04:04:05+01:00"}),
    case("get-item", "GET", "/api/connectors/jira/items/PROJ-1", "GetItem",
         {"connectorId": "jira", "connectionId": "c1", "itemId": "PROJ-1"},
         res.GetItemResponse(item=ITEM), {"id": "PROJ-1", "body": {"text": "hi", "format": "plain"}},
         params={"connectionId": "c1"}),
    case("comments", "GET", "/api/connectors/jira/comments", "ListComments",
         {"connectorId": "jira", "connectionId": "c1", "itemId": "PROJ-1"},
         res.ListCommentsResponse(items=[COMMENT], next="n"), {"items": [{"id": "10"}], "next": "n"},
         params={"connectionId": "c1", "itemId": "PROJ-1"}),
    case("create-item", "POST", "/api/connectors/jira/items", "CreateItem",
         {"connectorId": "jira", "connectionId": "c1", "containerId": "PROJ", "title": "Bug",
          "body": {"text": "hi", "format": "markdown"}},
         res.CreateItemResponse(item=ITEM), {"id": "PROJ-1"}, 201,
         json={"connectionId": "c1", "containerId": "PROJ", "title": "Bug",
               "body": {"text": "hi", "format": "markdown"}}),
    case("create-comment", "POST", "/api/connectors/jira/comments", "CreateComment",
         {"connectorId": "jira", "connectionId": "c1", "itemId": "PROJ-1", "body": {"text": "ok"}},
         res.CreateCommentResponse(comment=COMMENT), {"id": "10", "itemId": "PROJ-1"}, 201,
         json={"connectionId": "c1", "itemId": "PROJ-1", "body": {"text": "ok"}}),
    # connections
    case("list-connections", "GET", "/api/connections", "ListConnections",
         {"workspaceId": "w1", "connectorId": "jira", "cursor": "x", "limit": 10},
         conn.ListConnectionsResponse(items=[CONNECTION], next="y"), {"items": [{"id": "c1"}], "next": "y"},
         params={"workspaceId": "w1", "connectorId": "jira", "cursor": "x", "limit": "10"}),
    case("upsert-connection-created", "POST", "/api/connections", "UpsertConnection",
         {"connectorId": "jira", "workspaceId": "w1", "name": "Team", "metadata": {"site": "acme"}},
         conn.UpsertConnectionResponse(connection=CONNECTION, created=True), {"id": "c1"}, 201,
         json={"connectorId": "jira", "workspaceId": "w1", "name": "Team", "metadata": {"site": "acme"}}),
    case("upsert-connection-updated", "POST", "/api/connections", "UpsertConnection",
         {"connectionId": "c1", "name": "Renamed"},
         conn.UpsertConnectionResponse(connection=CONNECTION, created=False), {"id": "c1"}, 200,
         json={"connectionId": "c1", "name": "Renamed"}),
    case("get-connection", "GET", "/api/connections/c1", "GetConnection", {"connectionId": "c1"},
         conn.GetConnectionResponse(connection=CONNECTION),
         {"id": "c1", "status": "connected", "credentialSet": False, "scopes": []}),
    case("delete-connection", "DELETE", "/api/connections/c1", "DeleteConnection", {"connectionId": "c1"},
         conn.DeleteConnectionResponse(connection_id="c1"), {"connectionId": "c1"}),
    case("store-token-string", "POST", "/api/connections/token", "StoreToken",
         {"connectionId": "c1", "tokenString": "tok-123"},
         conn.StoreTokenResponse(connection=CONNECTION), {"id": "c1"},
         json={"connectionId": "c1", "token": "tok-123"}),
    case("store-token-set", "POST", "/api/connections/token", "StoreToken",
         {"connectorId": "jira", "workspaceId": "w1",
          "tokenSet": {"accessToken": "at", "refreshToken": "rt", "expiresAt": "2030-01-01T00:00:00Z",
                       "tokenType": "Bearer", "scope": "read"}},
         conn.StoreTokenResponse(connection=CONNECTION), {"id": "c1"},
         json={"connectorId": "jira", "workspaceId": "w1",
               "token": {"accessToken": "at", "refreshToken": "rt", "expiresAt": "2030-01-01T00:00:00Z",
                         "tokenType": "Bearer", "scope": "read"}}),
    case("get-token", "GET", "/api/connections/c1/token", "GetToken", {"connectionId": "c1", "forceRefresh": True},
         conn.GetTokenResponse(credential=conn.Credential(connection_id="c1", kind="oauth2", access_token="at")),
         {"connectionId": "c1", "kind": "oauth2", "accessToken": "at", "refreshed": False},
         params={"forceRefresh": "true"}),
    case("validate-connection", "POST", "/api/connections/c1/validate", "ValidateConnection", {"connectionId": "c1"},
         conn.ValidateConnectionResponse(connection_id="c1", valid=True), {"connectionId": "c1", "valid": True}),
    case("revoke-connection", "POST", "/api/connections/c1/revoke", "RevokeConnection", {"connectionId": "c1"},
         conn.RevokeConnectionResponse(connection_id="c1", status="revoked"), {"status": "revoked"}),
    case("validate-connection-body", "POST", "/api/connections/validate", "ValidateConnection",
         {"connectionId": "c1"},
         conn.ValidateConnectionResponse(connection_id="c1", valid=True), {"connectionId": "c1", "valid": True},
         json={"connectionId": "c1"}),
    case("revoke-connection-body", "POST", "/api/connections/revoke", "RevokeConnection", {"connectionId": "c1"},
         conn.RevokeConnectionResponse(connection_id="c1", status="revoked"), {"status": "revoked"},
         json={"connectionId": "c1"}),
    case("get-sync-state", "GET", "/api/connections/c1/sync-state", "GetSyncState",
         {"connectionId": "c1", "stream": "items"},
         conn.GetSyncStateResponse(state=conn.SyncState(connection_id="c1", stream="items", version=7)),
         {"stream": "items", "version": 7}, params={"stream": "items"}),
    case("set-sync-state", "POST", "/api/connections/c1/sync-state", "SetSyncState",
         {"connectionId": "c1", "stream": "items", "cursor": {"updatedAt": "2025-01-01"}, "expectedVersion": "0"},
         conn.SetSyncStateResponse(state=conn.SyncState(connection_id="c1", stream="items", version=1)),
         {"version": 1}, json={"stream": "items", "cursor": {"updatedAt": "2025-01-01"}, "expectedVersion": 0}),
    case("audit-logs", "GET", "/api/audit-logs", "ListAuditLogs", {"connectionId": "c1", "limit": 5},
         conn.ListAuditLogsResponse(items=[conn.AuditLog(id="a1", action="credential.read")]),
         {"items": [{"id": "a1", "action": "credential.read"}], "next": ""},
         params={"connectionId": "c1", "limit": "5"}),
    # jobs and records
    case("create-job", "POST", "/api/connectors/jira/jobs", "CreateJob",
         {"connectorId": "jira", "connectionId": "c1", "type": "sync",
          "params": {"containers": ["PROJ"], "streams": ["items"], "full": True}},
         jobs.CreateJobResponse(job=JOB), {"id": "j1", "status": "queued", "counts": {"added": 3}}, 202,
         json={"type": "sync", "connectionId": "c1",
               "params": {"containers": ["PROJ"], "streams": ["items"], "full": True}}),
    case("get-job", "GET", "/api/jobs/j1", "GetJob", {"jobId": "j1"}, jobs.GetJobResponse(job=JOB), {"id": "j1"}),
    case("list-jobs", "GET", "/api/jobs", "ListJobs", {"connectionId": "c1"},
         jobs.ListJobsResponse(items=[JOB]), {"items": [{"id": "j1"}], "next": ""}, params={"connectionId": "c1"}),
    case("cancel-job", "POST", "/api/jobs/j1/cancel", "CancelJob", {"jobId": "j1"},
         jobs.CancelJobResponse(job=jobs.Job(id="j1", status="canceled")), {"id": "j1", "status": "canceled"}),
    case("records", "GET", "/api/connections/c1/records", "ListRecords",
         {"connectionId": "c1", "stream": "items", "cursor": "k", "limit": 100},
         jobs.ListRecordsResponse(items=[jobs.Record(id="PROJ-1", stream="items", action="added")], next="k2"),
         {"items": [{"id": "PROJ-1", "stream": "items", "action": "added"}], "next": "k2"},
         params={"stream": "items", "cursor": "k", "limit": "100"}),
    # webhooks
    case("register-webhook", "POST", "/api/connectors/github/webhooks", "RegisterWebhook",
         {"connectorId": "github", "connectionId": "c1", "events": ["issues"], "callbackUrl": "https://app/hook"},
         wh.RegisterWebhookResponse(webhook_id="h1", receiver_url="https://gw/api/webhooks/h1"),
         {"webhookId": "h1", "receiverUrl": "https://gw/api/webhooks/h1"}, 201,
         json={"connectionId": "c1", "events": ["issues"], "callbackUrl": "https://app/hook"}),
    case("unregister-webhook", "DELETE", "/api/connectors/github/webhooks", "UnregisterWebhook",
         {"connectorId": "github", "webhookId": "h1"},
         wh.UnregisterWebhookResponse(webhook_id="h1"), {"webhookId": "h1"}, json={"webhookId": "h1"}),
    case("dead-letters", "GET", "/api/webhooks/dead-letters", "ListDeadLetters", {"webhookId": "h1"},
         wh.ListDeadLettersResponse(items=[wh.DeadLetter(id="d1", attempts=5)]),
         {"items": [{"id": "d1", "attempts": 5}], "next": ""}, params={"webhookId": "h1"}),
]  # fmt: skip


def contains(actual: Any, expected: Any) -> bool:
    """`expected` is a sub-document of `actual` (lists compared item by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(contains, actual, expected))
    return actual == expected


@pytest.mark.parametrize(("method", "path", "http", "rpc", "sent", "reply", "data", "status"), CASES)
async def test_route_maps_json_to_rpc_and_back(
    client: httpx.AsyncClient,
    fake: FakeConnectorService,
    method: str,
    path: str,
    http: dict[str, Any],
    rpc: str,
    sent: dict[str, Any],
    reply: Message,
    data: dict[str, Any],
    status: int,
) -> None:
    fake.replies[rpc] = reply
    response = await client.request(method, path, **http)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is True
    assert contains(body["data"], data), body["data"]
    call = fake.only_call()
    assert call.method == rpc
    assert json_format.MessageToDict(call.request) == sent
