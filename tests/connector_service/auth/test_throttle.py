"""Failed authentications are limited per source address and per key id, with the
counts shared through MongoDB; a valid key is never slowed by someone else's guessing
from its address, but a key id under attack is closed until the window ends."""

from __future__ import annotations

import json

import grpc
import pytest
from connector_service.auth.interceptor import Authenticator
from connector_service.auth.throttle import KEY, AuthThrottle
from ucf.connector.v1 import connectors_pb2

from tests.connector_service.harness import Stack, auth

LIMIT = 20  # UCF_AUTH_FAILURE_LIMIT's default


async def _list(stack: Stack, key: str, source: str) -> grpc.aio.AioRpcError | None:
    metadata = [*auth(key), ("x-forwarded-for", source)]
    try:
        await stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=metadata)
    except grpc.aio.AioRpcError as err:
        return err
    return None


def _wrong_key(i: int) -> str:
    return f"ucf_{i:016x}_{'w' * 43}"


async def test_fifty_wrong_keys_then_rate_limited_while_a_valid_key_still_works(stack: Stack) -> None:
    answers = [await _list(stack, _wrong_key(i), "198.51.100.7") for i in range(50)]
    codes = [err.code() for err in answers if err is not None]
    assert codes[:LIMIT] == [grpc.StatusCode.UNAUTHENTICATED] * LIMIT
    assert codes[LIMIT:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * (50 - LIMIT)
    trailers = dict(answers[-1].trailing_metadata())
    assert trailers["ucf-error-code"] == "rate_limited"
    assert 1 <= json.loads(trailers["ucf-error-details"])["retryAfterSeconds"] <= 60

    valid = await stack.key()
    assert await _list(stack, valid, "198.51.100.7") is None  # successful callers are never slowed
    other = await _list(stack, _wrong_key(99), "198.51.100.8")  # another address is not affected
    assert other is not None and other.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_guessing_one_key_id_closes_it_even_for_the_right_secret(stack: Stack) -> None:
    key = await stack.key()
    key_id = key.split("_")[1]
    for i in range(LIMIT + 1):  # each guess from another address: the key id's count is what trips
        await _list(stack, f"ucf_{key_id}_{'x' * 42}{i % 10}", f"192.0.2.{i + 1}")
    refused = await _list(stack, key, "203.0.113.50")
    assert refused is not None and refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_replicas_share_the_counts(stack: Stack) -> None:
    first = AuthThrottle(stack.db, limit=3, window_seconds=60)
    second = AuthThrottle(stack.db, limit=3, window_seconds=60)
    assert [await first.failed(KEY, "k1"), await second.failed(KEY, "k1"), await first.failed(KEY, "k1")] == [
        None,
        None,
        None,
    ]
    assert await second.failed(KEY, "k1") is not None
    assert second.blocked_for(KEY, "k1") is not None and first.blocked_for(KEY, "k1") is None
    indexes = await stack.db["auth_failures"].index_information()
    assert any(ix.get("expireAfterSeconds") == 0 for ix in indexes.values())  # old buckets expire


class _Context:
    def __init__(self, peer: str, forwarded: str):
        self._peer, self._metadata = peer, (("x-forwarded-for", forwarded),)

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self):
        return self._metadata


@pytest.mark.parametrize(
    ("peer", "trusted", "expected"),
    [
        pytest.param("ipv4:127.0.0.1:5000", ["127.0.0.1/32"], "203.0.113.1", id="gateway-forwards"),
        pytest.param("ipv4:10.0.0.9:5000", ["127.0.0.1/32"], "10.0.0.9", id="untrusted-peer-cannot-spoof"),
        pytest.param("ipv6:[::1]:5000", [], "::1", id="nothing-trusted"),
    ],
)
def test_the_source_address_is_believed_only_from_a_trusted_proxy(peer: str, trusted: list[str], expected: str) -> None:
    authenticator = Authenticator(None, trusted_proxies=trusted)  # type: ignore[arg-type]
    assert authenticator.source_address(_Context(peer, "203.0.113.1")) == expected
