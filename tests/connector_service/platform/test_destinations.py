"""Every host or URL a tenant chooses is read one way: a bad one — an odd numeric IPv4
spelling, userinfo, a backslash, whitespace, another scheme, no host, a bad port — is a
400 naming the field, never a 500 and never a connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from connector_service.connectors.auth import OAuth2Credential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import Upstream
from connector_service.connectors.jira import JiraConnector
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.oauth.tokens import TokenSet
from connector_service.platform import destinations
from google.protobuf import struct_pb2
from ucf.connector.v1 import connectors_pb2 as pb
from ucf.connector.v1 import webhooks_pb2 as wpb
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes.jira_server import API_TOKEN, EMAIL

BAD_URLS = [
    pytest.param("http://0177.0.0.1:1", "four decimal numbers", id="octal-ipv4"),
    pytest.param("http://0x7f.1/", "four decimal numbers", id="hex-ipv4"),
    pytest.param("http://2130706433/", "four decimal numbers", id="packed-ipv4"),
    pytest.param("http://127.1/", "four decimal numbers", id="short-ipv4"),
    pytest.param("http://127.0.0.1./", "four decimal numbers", id="ipv4-trailing-dot"),
    pytest.param("https://good.example@127.0.0.1/", "user name or password", id="userinfo"),
    pytest.param("https://good.example%40evil@127.0.0.1/", "user name or password", id="encoded-userinfo"),
    pytest.param("https://good.example%40evil/", "percent", id="percent-in-host"),
    pytest.param("https://good.example\\@127.0.0.1/", "backslash", id="backslash"),
    pytest.param("https://good.example\n.evil/", "control characters", id="newline"),
    pytest.param("https://good .example/", "spaces", id="space"),
    pytest.param("https://good.example\x00/", "control characters", id="nul"),
    pytest.param("ftp://good.example/", "http(s) URL", id="ftp"),
    pytest.param("file:///etc/passwd", "http(s) URL", id="file"),
    pytest.param("good.example", "http(s) URL", id="no-scheme"),
    pytest.param("http:good.example", "http(s) URL", id="no-slashes"),
    pytest.param("https:///path", "must name a host", id="no-host"),
    pytest.param("https://good.example:0/", "port", id="port-zero"),
    pytest.param("https://good.example:65536/", "port", id="port-too-big"),
    pytest.param("https://good.example:/", "port", id="port-empty"),
    pytest.param("https://good.example:80a/", "port", id="port-not-a-number"),
    pytest.param("https://[fe80::1%25eth0]/", "IPv6", id="ipv6-zone"),
    pytest.param("https://[::1/", "http(s) URL", id="ipv6-unclosed"),
    pytest.param("https://a..example/", "host name", id="empty-label"),
]


@pytest.mark.parametrize(("url", "says"), BAD_URLS)
def test_a_bad_url_is_refused_naming_the_field_and_saying_why(url: str, says: str) -> None:
    with pytest.raises(UcfError) as caught:
        destinations.http_url(url, "callbackUrl")
    assert caught.value.code is ErrorCode.INVALID_REQUEST and caught.value.details == {"field": "callbackUrl"}
    assert caught.value.message.startswith("callbackUrl") and says in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.atlassian.net",
        "http://127.0.0.1:8080/x",
        "https://[2606:4700::1111]:8443/hooks",
        "https://münchen.example/",
        "HTTPS://ACME.example",
        " https://acme.example/hooks?x=1 ",
    ],
)
def test_ordinary_urls_pass(url: str) -> None:
    assert destinations.http_url(url, "site").hostname


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("0177.0.0.1", "four decimal numbers"),
        ("127.1", "four decimal numbers"),
        ("2130706433", "four decimal"),
        ("db.example:5432", "without a port"),
        ("fe80::1%eth0", "IPv6"),
        ("db .example", "spaces"),
        ("a,b.example", "host name"),
        ("postgres://db.example", "without a port"),
        ("", "required"),
    ],
)
def test_a_bad_postgresql_host_is_refused(host: str, says: str) -> None:
    with pytest.raises(UcfError) as caught:
        destinations.host(host, "host")
    assert caught.value.details == {"field": "host"} and says in caught.value.message


@pytest.mark.parametrize(
    ("host", "kept"),
    [("db.example", "db.example"), ("10.0.0.7", "10.0.0.7"), ("::1", "::1"), ("[2001:db8::5]", "2001:db8::5")],
)
def test_ordinary_postgresql_hosts_pass(host: str, kept: str) -> None:
    assert destinations.host(host, "host") == kept


def _ctx(http: httpx.AsyncClient) -> ConnectorContext:
    return ConnectorContext(connector_id="salesforce", credential=OAuth2Credential(TokenSet("")), http=http)


@pytest.mark.parametrize("base", ["http://0177.0.0.1", "ftp://instance.example"])
async def test_a_stored_url_the_http_client_cannot_use_is_a_400_not_a_crash(base: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(UcfError) as caught:
            await Upstream(_ctx(http), "salesforce", base, {}).get("/services/data")
    assert caught.value.code is ErrorCode.INVALID_REQUEST and "salesforce URL" in caught.value.message


async def test_a_cursor_with_an_unparseable_url_is_not_valid_for_the_connection() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(UcfError) as caught:
            Upstream(_ctx(http), "salesforce", "https://na1.example", {}).url("http://0177.0.0.1/next")
    assert caught.value.code is ErrorCode.INVALID_REQUEST and "cursor" in caught.value.message


@pytest.fixture
async def stack(mongo_url: str, db_suffix: str) -> AsyncIterator[Stack]:
    """No egress policy: what is refused here is refused for its spelling alone."""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(
            mongo_url,
            f"ucf_{db_suffix}",
            FakeVault(),
            http,
            registry=ConnectorRegistry([JiraConnector, PostgresConnector]),
        ) as started,
    ):
        yield started


def _form(**values: object) -> struct_pb2.Struct:
    form = struct_pb2.Struct()
    form.update(values)
    return form


async def _refused(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return caught.value


@pytest.mark.parametrize(
    "site", ["http://0177.0.0.1:1", "http://0x7f.1:1", "https://x@127.0.0.1:1", "http://127.0.0.1:1\\@good.example"]
)
async def test_an_atlassian_site_in_an_odd_spelling_is_a_400_not_a_500(stack: Stack, site: str) -> None:
    key = await stack.key()
    refused = await _refused(
        stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(
                connector_id="jira",
                workspace_id="ws1",
                method="basic",
                credentials=_form(site=site, email=EMAIL, api_token=API_TOKEN),
            ),
            metadata=auth(key),
        )
    )
    assert refused.details().startswith("site") and API_TOKEN not in refused.details()


@pytest.mark.parametrize(
    "callback", ["http://0177.0.0.1/hooks", "https://good.example@127.0.0.1/hooks", "https://hooks.example:99999/"]
)
async def test_a_webhook_callback_in_an_odd_spelling_is_a_400(stack: Stack, callback: str) -> None:
    key = await stack.key()
    refused = await _refused(
        stack.webhooks.RegisterWebhook(
            wpb.RegisterWebhookRequest(
                connector_id="jira", connection_id="con_missing", container_id="P1", callback_url=callback
            ),
            metadata=auth(key),
        )
    )
    assert refused.details().startswith("callbackUrl")


@pytest.mark.parametrize("host", ["0177.0.0.1", "127.1", "db.example:5432"])
async def test_a_postgresql_host_in_an_odd_spelling_is_a_400(stack: Stack, host: str) -> None:
    key = await stack.key()
    refused = await _refused(
        stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(
                connector_id="postgres",
                workspace_id="ws1",
                credentials=_form(host=host, port=1, database="d", user="u", password="pw-canary"),
            ),
            metadata=auth(key),
        )
    )
    assert refused.details().startswith("host") and "pw-canary" not in refused.details()
