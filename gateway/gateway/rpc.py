"""The one call path from a REST handler to the connector service.

`Stubs` are built once per process over one long-lived channel. A `Caller` is
the per-request view: the caller's metadata plus the deadline policy. Every
RPC goes through `Caller.__call__`, which turns a failed call into the
`UcfError` the peer raised (the `ucf-error-code` trailer wins over the bare
status), so routes never handle gRPC errors themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2_grpc
from ucf.connector.v1 import (
    connect_pb2_grpc,
    connections_pb2_grpc,
    connectors_pb2_grpc,
    events_pb2_grpc,
    jobs_pb2_grpc,
    proxy_pb2_grpc,
    resources_pb2_grpc,
    schedules_pb2_grpc,
    webhooks_pb2_grpc,
)
from ucf_common.errors import CODE_METADATA_KEY, ErrorCode, UcfError, rpc_trailers

from gateway.envelope import SizeRefused

log = logging.getLogger("ucf.gateway.rpc")

Reply = TypeVar("Reply", bound=Message)
Method = Callable[..., Awaitable[Reply]]

# A status without our `ucf-error-code` trailer was not raised by the connector service's code
# but by grpc-core (or a library) on either side, and its details carry their internals
# (addresses, socket errors, limits): callers get a sentence of ours, the log gets the details.
_BARE_MESSAGES = {
    ErrorCode.UNAVAILABLE: "the connector service is unavailable",
    ErrorCode.TIMEOUT: "the connector service did not answer in time",
    ErrorCode.INTERNAL: "internal error",
}
_BARE_MESSAGE = "the connector service could not handle the request"


@dataclass(frozen=True, slots=True)
class Stubs:
    """One stub per connector-service family, all over the same channel."""

    connectors: connectors_pb2_grpc.ConnectorServiceStub
    connections: connections_pb2_grpc.ConnectionServiceStub
    resources: resources_pb2_grpc.ResourceServiceStub
    jobs: jobs_pb2_grpc.JobServiceStub
    webhooks: webhooks_pb2_grpc.WebhookServiceStub
    schedules: schedules_pb2_grpc.ScheduleServiceStub
    health: health_pb2_grpc.HealthStub
    connect_sessions: connect_pb2_grpc.ConnectSessionServiceStub
    event_endpoints: events_pb2_grpc.EventEndpointServiceStub
    proxy: proxy_pb2_grpc.ProxyServiceStub

    @classmethod
    def from_channel(cls, channel: grpc.aio.Channel) -> Stubs:
        return cls(
            connectors=connectors_pb2_grpc.ConnectorServiceStub(channel),
            connections=connections_pb2_grpc.ConnectionServiceStub(channel),
            resources=resources_pb2_grpc.ResourceServiceStub(channel),
            jobs=jobs_pb2_grpc.JobServiceStub(channel),
            webhooks=webhooks_pb2_grpc.WebhookServiceStub(channel),
            schedules=schedules_pb2_grpc.ScheduleServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            connect_sessions=connect_pb2_grpc.ConnectSessionServiceStub(channel),
            event_endpoints=events_pb2_grpc.EventEndpointServiceStub(channel),
            proxy=proxy_pb2_grpc.ProxyServiceStub(channel),
        )


def error_from_rpc(err: grpc.RpcError) -> UcfError:
    """The domain error behind a failed call, without transport internals.

    A bare RESOURCE_EXHAUSTED is grpc-core refusing a message over its size limit, not a rate
    limit (ours carry the trailer): 413 `invalid_request`. Metadata never reaches grpc-core's
    limit, since `gateway.deps.call_metadata` refuses oversized forwarded headers first (431).
    """
    if CODE_METADATA_KEY in rpc_trailers(err):
        return UcfError.from_rpc_error(err)
    status = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    log.warning("connector call failed: %s %s", status, err.details() if hasattr(err, "details") else "")
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return SizeRefused(413, "the request is too large for the connector service")
    code = ErrorCode.from_grpc(status)
    return UcfError(code, _BARE_MESSAGES.get(code, _BARE_MESSAGE))


class Caller:
    """Calls RPCs on behalf of one REST request."""

    __slots__ = ("_timeout", "_upstream_timeout", "metadata", "stubs")

    def __init__(
        self, stubs: Stubs, metadata: tuple[tuple[str, str], ...], timeout: float, upstream_timeout: float
    ) -> None:
        self.stubs = stubs
        self.metadata = metadata
        self._timeout = timeout
        self._upstream_timeout = upstream_timeout

    async def __call__(self, method: Method[Reply], request: Message, *, upstream: bool = False) -> Reply:
        """Call `method`; `upstream=True` grants the longer deadline of calls that may reach a provider."""
        try:
            return await method(
                request,
                metadata=self.metadata,
                timeout=self._upstream_timeout if upstream else self._timeout,
            )
        except grpc.RpcError as err:
            raise error_from_rpc(err) from None
