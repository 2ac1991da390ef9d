"""Jira and Confluence onboarding with an Atlassian API token (auth mode `basic`):
the built-in catalog entries offer the site/email/api_token form, the callback
checks the token on the site with basic auth before storing it, and resources
are read through the resulting connection."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from connector_service.connectors.confluence import ConfluenceConnector
from connector_service.connectors.jira import JiraConnector
from connector_service.connectors.registry import ConnectorRegistry
from google.protobuf import struct_pb2
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as pb
from ucf.connector.v1 import resources_pb2 as rpb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes import confluence_server
from tests.fakes.confluence_server import FakeConfluence
from tests.fakes.jira_server import API_TOKEN, EMAIL, FakeJira


def _basic(email: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()


@pytest.fixture
async def atlassian(mongo_url: str, db_suffix: str) -> AsyncIterator[tuple[Stack, FakeJira, FakeConfluence]]:
    jira, confluence = FakeJira(projects=2, issues_per_project=3), FakeConfluence(spaces=3, pages_per_space=2)
    with jira.serve(), confluence.serve():
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                registry=ConnectorRegistry([JiraConnector, ConfluenceConnector]),
            ) as stack,
        ):
            yield stack, jira, confluence


def _form(**values: str) -> struct_pb2.Struct:
    form = struct_pb2.Struct()
    form.update(values)
    return form


async def _callback(stack: Stack, key: str, connector: str, workspace: str, **form: str) -> pb.ConnectCallbackResponse:
    return await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(
            connector_id=connector, workspace_id=workspace, method="basic", credentials=_form(**form)
        ),
        metadata=auth(key),
    )


@pytest.mark.parametrize("connector", ["jira", "confluence"])
async def test_connect_with_basic_lists_the_api_token_form(atlassian, connector: str) -> None:
    stack, _, _ = atlassian
    key = await stack.key()
    listed = await stack.connectors.GetConnector(pb.GetConnectorRequest(connector_id=connector), metadata=auth(key))
    assert [pb.AuthMode.Name(m) for m in listed.connector.auth_modes] == ["AUTH_MODE_OAUTH2", "AUTH_MODE_BASIC"]

    started = await stack.connectors.Connect(
        pb.ConnectRequest(connector_id=connector, workspace_id="ws1", method="basic"), metadata=auth(key)
    )

    assert started.method == "basic" and not started.auth_url and not started.state
    assert [(f.name, f.type, f.secret) for f in started.fields] == [
        ("site", "url", False),
        ("email", "string", False),
        ("api_token", "password", True),
    ]


async def test_jira_api_token_is_checked_on_the_site_then_reads_projects_and_issues(atlassian) -> None:
    stack, jira, _ = atlassian
    key = await stack.key()

    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await _callback(stack, key, "jira", "ws1", site=jira.base_url, email=EMAIL, api_token="wrong-token")
    assert rejected.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "wrong-token" not in rejected.value.details()
    assert jira.calls("/rest/api/3/myself") == 1
    nothing = await stack.connections.ListConnections(
        cpb.ListConnectionsRequest(connector_id="jira"), metadata=auth(key)
    )
    assert list(nothing.items) == []

    done = await _callback(stack, key, "jira", "ws1", site=jira.base_url + "/", email=EMAIL, api_token=API_TOKEN)

    assert done.status == "connected"
    check = [s for s in jira.seen if s.path == "/rest/api/3/myself"][-1]
    assert check.headers["authorization"] == _basic(EMAIL, API_TOKEN)
    conn = await stack.connections.GetConnection(
        cpb.GetConnectionRequest(connection_id=done.connection_id), metadata=auth(key)
    )
    assert conn.connection.auth_mode == pb.AUTH_MODE_BASIC and conn.connection.HasField("last_validated_at")

    projects = await stack.resources.ListContainers(
        rpb.ListContainersRequest(connector_id="jira", connection_id=done.connection_id), metadata=auth(key)
    )
    assert len(projects.items) == 2
    issues = await stack.resources.ListItems(
        rpb.ListItemsRequest(connector_id="jira", connection_id=done.connection_id, container_id=projects.items[0].id),
        metadata=auth(key),
    )
    assert len(issues.items) == 3
    assert jira.calls("/ex/jira/") == 0  # everything went to the site, none through the OAuth gateway

    valid = await stack.connections.ValidateConnection(
        cpb.ValidateConnectionRequest(connection_id=done.connection_id), metadata=auth(key)
    )
    assert valid.valid
    assert jira.calls("/rest/api/3/myself") == 3


async def test_confluence_api_token_is_checked_on_the_site_then_reads_spaces(atlassian) -> None:
    stack, _, confluence = atlassian
    key = await stack.key()

    email, token = confluence_server.EMAIL, confluence_server.API_TOKEN
    done = await _callback(stack, key, "confluence", "ws1", site=confluence.base_url, email=email, api_token=token)

    assert done.status == "connected"
    check = [s for s in confluence.seen if s.path == "/wiki/rest/api/user/current"]
    assert len(check) == 1 and check[0].headers["authorization"] == _basic(email, token)
    spaces = await stack.resources.ListContainers(
        rpb.ListContainersRequest(connector_id="confluence", connection_id=done.connection_id), metadata=auth(key)
    )
    assert len(spaces.items) == 3


@pytest.mark.parametrize(
    "site",
    [
        pytest.param("ftp://acme.atlassian.net", id="not-http"),
        pytest.param("https://acme.atlassian.net/?next=x", id="query"),
        pytest.param("acme.atlassian.net", id="no-scheme"),
    ],
)
async def test_a_site_that_is_not_an_http_url_is_refused_before_any_call(atlassian, site: str) -> None:
    stack, jira, _ = atlassian
    key = await stack.key()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _callback(stack, key, "jira", "ws1", site=site, email=EMAIL, api_token=API_TOKEN)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "site" in refused.value.details()
    assert jira.calls() == 0
