"""The egress guard: tenant-chosen hosts that resolve to private, loopback, link-local or
reserved addresses are never connected to unless their network is allowed — checked on
the addresses the HTTP client and PostgreSQL actually dial, answered with a clear error."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Iterator

import grpc
import httpx
import pytest
from connector_service.connectors.auth import BasicCredential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import Upstream, create_http_client
from connector_service.connectors.jira import JiraConnector
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.connectors.retry import RetryPolicy
from connector_service.platform import egress
from connector_service.platform.egress import EgressPolicy
from google.protobuf import struct_pb2
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as pb
from ucf.connector.v1 import webhooks_pb2 as wpb
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack
from tests.fakes.jira_server import API_TOKEN, EMAIL, FakeJira

LOOPBACK = ("127.0.0.0/8", "::1/128")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fc00::1",
        "fe80::1%eth0",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert not EgressPolicy().permits(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "140.82.112.3", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_unicast_addresses_are_permitted(address: str) -> None:
    assert EgressPolicy().permits(address)


def test_listed_networks_are_permitted_and_nothing_more() -> None:
    policy = EgressPolicy.from_setting(" 127.0.0.0/8, 10.20.0.0/16 ,")
    assert policy.permits("127.0.0.1") and policy.permits("10.20.5.6") and policy.permits("::ffff:10.20.0.1")
    assert not policy.permits("10.21.0.1") and not policy.permits("::1") and not policy.permits("169.254.169.254")
    with pytest.raises(ValueError, match="UCF_EGRESS_ALLOWED_NETWORKS"):
        EgressPolicy.from_setting("10.0.0.0/33")


@pytest.mark.parametrize(
    ("inside", "public"),
    [
        pytest.param("::ffff:{}", True, id="ipv4-mapped"),
        pytest.param("::ffff:0:{}", True, id="ipv4-translated"),
        pytest.param("::{}", True, id="ipv4-compatible"),
        pytest.param("64:ff9b::{}", True, id="nat64"),
        pytest.param("64:ff9b:1::{}", True, id="nat64-local-use"),
        pytest.param("2002:{0}::1", True, id="6to4"),
        pytest.param("2001:0:{0}::1", False, id="teredo-server"),
    ],
)
@pytest.mark.parametrize("v4", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "192.168.1.1", "0.0.0.0"])
def test_ipv6_that_carries_a_private_ipv4_address_is_refused(inside: str, public: bool, v4: str) -> None:
    """An IPv6 form that reaches an IPv4 address through a translator or tunnel is judged by
    the IPv4 address inside it: a private one is refused, a public one permitted."""
    policy = EgressPolicy()
    assert not policy.permits(_embed(inside, v4))
    assert policy.permits(_embed(inside, "8.8.8.8")) is public
    assert EgressPolicy([f"{v4}/32"]).permits(_embed(inside, v4)) is public  # the operator allowed that IPv4


def _embed(template: str, v4: str) -> str:
    """`template` with `v4` in it: dotted where `{}`, as two hex groups where `{0}`."""
    if "{0}" not in template:
        return template.format(v4)
    packed = int(ipaddress.IPv4Address(v4))
    return template.format(f"{packed >> 16:x}:{packed & 0xFFFF:x}")


def test_teredo_is_judged_by_both_of_its_ipv4_addresses() -> None:
    def teredo(server: str, client: str) -> str:
        address = (
            (0x20010000 << 96)
            | (int(ipaddress.IPv4Address(server)) << 64)
            | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)
        )
        return str(ipaddress.IPv6Address(address))

    policy = EgressPolicy()
    assert policy.permits(teredo("8.8.8.8", "1.1.1.1"))
    assert not policy.permits(teredo("8.8.8.8", "127.0.0.1"))  # the client end is loopback
    assert not policy.permits(teredo("10.0.0.1", "1.1.1.1"))


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",
        "fec0:0:0:1::7f00:1",
        "100::1",
        "2001:db8::1",
        "64:ff9b:1:ffff::808:808",
        "ff02::1",
        "4000::1",
    ],
)
def test_non_global_ipv6_ranges_are_refused(address: str) -> None:
    assert not EgressPolicy().permits(address)


async def test_a_refusal_does_not_tell_the_tenant_what_a_name_resolved_to(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="ucf.egress"), pytest.raises(egress.EgressRefused) as caught:
        await EgressPolicy().resolve("localhost", 80)
    answer = egress.refused_error(caught.value, "site")
    assert answer.message.startswith("site: destination not allowed") and answer.details == {"field": "site"}
    assert "127.0.0.1" not in answer.message and "localhost" not in answer.message
    assert "localhost" in caplog.text and "127.0.0.1" in caplog.text  # the operator can still see why
    assert await EgressPolicy(LOOPBACK).resolve("127.0.0.1", 80) == ["127.0.0.1"]


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    fake = FakeJira(projects=1, issues_per_project=1)
    with fake.serve():
        yield fake


async def test_the_guarded_http_client_never_dials_a_refused_address(jira: FakeJira) -> None:
    policy = EgressPolicy()
    async with create_http_client(policy=policy) as http:
        for url in (jira.base_url, jira.base_url.replace("127.0.0.1", "localhost")):
            with pytest.raises(httpx.ConnectError) as caught:
                await http.get(url + "/rest/api/3/serverInfo")
            assert isinstance(egress.refusal(caught.value), egress.EgressRefused)
        assert jira.seen == []
        policy.allowed = EgressPolicy(LOOPBACK).allowed
        answer = await http.get(jira.base_url + "/rest/api/3/serverInfo")
        assert answer.status_code == 401 and len(jira.seen) == 1  # reached: the fake wants credentials


@pytest.fixture
async def raw_server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    """A loopback HTTP/1.1 server whose answer the path picks: `/ok` (keep-alive), `/drop` (closes
    without answering), `/silent` (never answers). Counts the connections it accepted."""
    counts = {"connections": 0}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts["connections"] += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1]
                if path == b"/drop":
                    break
                if path == b"/silent":
                    await asyncio.sleep(30)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", counts
    finally:
        server.close()


async def test_the_guarded_client_keeps_connections_alive_and_raises_httpx_errors(
    raw_server: tuple[str, dict[str, int]],
) -> None:
    base, counts = raw_server
    async with create_http_client(policy=EgressPolicy(LOOPBACK), read_timeout=0.5) as http:
        answers = [await http.get(base + "/ok") for _ in range(3)]
        assert [(a.status_code, a.text) for a in answers] == [(200, "ok")] * 3
        assert counts["connections"] == 1  # one pooled connection, reused
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(base + "/drop")
        with pytest.raises(httpx.ReadTimeout):
            await http.get(base + "/silent")


async def test_a_stored_connection_on_a_refused_address_answers_412_without_retries(jira: FakeJira) -> None:
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    async with create_http_client(policy=EgressPolicy()) as http:
        ctx = ConnectorContext(
            connector_id="jira",
            credential=BasicCredential({"site": jira.base_url}),
            http=http,
            retry=RetryPolicy(max_attempts=3, sleep=wait),
        )
        with pytest.raises(UcfError) as caught:
            await Upstream(ctx, "jira", jira.base_url, {}).get("/rest/api/3/project/search")
    assert caught.value.code is ErrorCode.FAILED_PRECONDITION and "destination not allowed" in caught.value.message
    assert jira.seen == [] and waits == []  # refused once, not retried


@pytest.fixture
async def guarded(mongo_url: str, db_suffix: str, jira: FakeJira) -> AsyncIterator[tuple[Stack, EgressPolicy]]:
    """A connector service as `serve()` builds it: a process policy and the guarded client (nothing allowed)."""
    policy = EgressPolicy()
    egress.configure(policy)
    try:
        async with (
            create_http_client(policy=policy) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                registry=ConnectorRegistry([JiraConnector, PostgresConnector]),
            ) as stack,
        ):
            yield stack, policy
    finally:
        egress.configure(None)


def _form(**values: object) -> struct_pb2.Struct:
    form = struct_pb2.Struct()
    form.update(values)
    return form


async def _connect(stack: Stack, key: str, connector: str, **form: object) -> pb.ConnectCallbackResponse:
    method = "basic" if connector == "jira" else ""
    return await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(connector_id=connector, workspace_id="ws1", method=method, credentials=_form(**form)),
        metadata=auth(key),
    )


async def test_an_atlassian_site_on_a_refused_address_is_a_clear_400(guarded, jira: FakeJira) -> None:
    stack, policy = guarded
    key = await stack.key()
    for site in (jira.base_url, "http://169.254.169.254", "http://10.0.0.7:8080"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _connect(stack, key, "jira", site=site, email=EMAIL, api_token=API_TOKEN)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith("site: destination not allowed")
        assert "UCF_EGRESS_ALLOWED_NETWORKS" in caught.value.details()
        assert API_TOKEN not in caught.value.details() and "127.0.0.1" not in caught.value.details()
    assert jira.calls("/rest/api/3/myself") == 0
    nothing = await stack.connections.ListConnections(cpb.ListConnectionsRequest(), metadata=auth(key))
    assert list(nothing.items) == []

    policy.allowed = EgressPolicy(LOOPBACK).allowed  # the operator lists the site's network
    done = await _connect(stack, key, "jira", site=jira.base_url, email=EMAIL, api_token=API_TOKEN)
    assert done.status == "connected" and jira.calls("/rest/api/3/myself") == 1


async def test_a_postgresql_host_on_a_refused_address_is_refused_before_connecting(guarded) -> None:
    stack, policy = guarded
    key = await stack.key()
    for host in ("127.0.0.1", "localhost", "/var/run/postgresql"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _connect(stack, key, "postgres", host=host, database="test", user="postgres", password="pw-canary")
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith("host: destination not allowed")
        assert "pw-canary" not in caught.value.details()

    policy.allowed = EgressPolicy(LOOPBACK).allowed
    done = await _connect(stack, key, "postgres", host="localhost", database="test", user="postgres", password="x")
    assert done.status == "connected"


async def test_a_webhook_callback_on_a_refused_address_is_refused_at_registration(guarded) -> None:
    stack, _ = guarded
    key = await stack.key()
    for callback in ("http://192.168.1.20/hooks", "https://[::1]:8443/hooks", "http://localhost/hooks"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.webhooks.RegisterWebhook(
                wpb.RegisterWebhookRequest(
                    connector_id="jira", connection_id="con_missing", container_id="P1", callback_url=callback
                ),
                metadata=auth(key),
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details().startswith("callbackUrl: destination not allowed")
