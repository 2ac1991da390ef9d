"""An in-process stand-in for the connector service: every method of the five
generated `*Servicer` bases answers a canned reply (or an empty one), or fails
with a configured status and trailers, and records the request and metadata
it received. The standard health servicer stands beside them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2_grpc
from ucf.connector.v1 import (
    connections_pb2,
    connections_pb2_grpc,
    connectors_pb2,
    connectors_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    resources_pb2,
    resources_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from ucf_common.errors import CODE_METADATA_KEY, DETAILS_METADATA_KEY

_SERVICES = (
    (connectors_pb2_grpc, "ConnectorService", connectors_pb2),
    (connections_pb2_grpc, "ConnectionService", connections_pb2),
    (resources_pb2_grpc, "ResourceService", resources_pb2),
    (jobs_pb2_grpc, "JobService", jobs_pb2),
    (webhooks_pb2_grpc, "WebhookService", webhooks_pb2),
)


@dataclass
class Call:
    method: str
    request: Message
    metadata: dict[str, str]


@dataclass
class Failure:
    status: grpc.StatusCode
    message: str
    code: str | None = None
    details: dict[str, Any] | None = None


@dataclass
class FakeConnectorService:
    """What the fake answers; tests set `replies`/`failures`/`hanging` and read `calls`."""

    calls: list[Call] = field(default_factory=list)
    replies: dict[str, Message] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    hanging: set[str] = field(default_factory=set)

    def reset(self) -> None:
        self.calls.clear()
        self.replies.clear()
        self.failures.clear()
        self.hanging.clear()

    def only_call(self) -> Call:
        assert len(self.calls) == 1, [c.method for c in self.calls]
        return self.calls[0]

    async def handle(self, method: MethodDescriptor, request: Message, context: grpc.aio.ServicerContext) -> Message:
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        self.calls.append(Call(method.name, request, metadata))
        if method.name in self.hanging:
            await asyncio.Event().wait()
        failure = self.failures.get(method.name)
        if failure is not None:
            if failure.code is not None:
                context.set_trailing_metadata(
                    ((CODE_METADATA_KEY, failure.code), (DETAILS_METADATA_KEY, json.dumps(failure.details or {})))
                )
            await context.abort(failure.status, failure.message)
        reply = self.replies.get(method.name)
        return reply if reply is not None else message_factory.GetMessageClass(method.output_type)()


def _servicer(base: type, service: ServiceDescriptor, fake: FakeConnectorService) -> Any:
    def behaviour(method: MethodDescriptor) -> Callable[..., Coroutine[Any, Any, Message]]:
        async def call(self: Any, request: Message, context: grpc.aio.ServicerContext) -> Message:
            return await fake.handle(method, request, context)

        return call

    cls = type(f"Fake{base.__name__}", (base,), {m.name: behaviour(m) for m in service.methods})
    return cls()


async def start_fake_server(fake: FakeConnectorService) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Serve the fake on a free loopback port; the caller stops the server."""
    server = grpc.aio.server()
    for module, name, pb in _SERVICES:
        servicer = _servicer(getattr(module, f"{name}Servicer"), pb.DESCRIPTOR.services_by_name[name], fake)
        getattr(module, f"add_{name}Servicer_to_server")(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port, health_servicer
