"""Building and running the connector service's gRPC server.

`create_server` takes the stores and servicers from `wiring.wire`, built
around dependencies it is given (database, vault client, httpx client), adds
interceptors, health and reflection, binds the port (0 in tests) and returns `(server, port)` without
starting it. `serve` creates those dependencies inside the running loop, runs
until SIGTERM/SIGINT and then drains in-flight RPCs for a grace period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ucf.connector.v1 import (
    connect_pb2,
    connect_pb2_grpc,
    connections_pb2,
    connections_pb2_grpc,
    connectors_pb2,
    connectors_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    proxy_pb2,
    proxy_pb2_grpc,
    resources_pb2,
    resources_pb2_grpc,
    schedules_pb2,
    schedules_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from ucf_common.grpc_server import RequestContextInterceptor, until_stop_signal
from ucf_common.health import HealthPublisher
from ucf_common.logging import configure_logging
from ucf_common.metrics import RpcMetricsInterceptor, serve_metrics
from ucf_common.tracing import GRPC_CLIENT, GRPC_SERVER, HTTPX, PYMONGO, configure_tracing

from connector_service.app.health import health_monitor
from connector_service.app.metrics import QueueGauges
from connector_service.app.settings import Settings
from connector_service.app.unimplemented import unimplemented_servicer
from connector_service.app.wiring import Background, wire
from connector_service.auth.api_keys import ApiKeyStore
from connector_service.auth.interceptor import AuthInterceptor
from connector_service.catalog.providers import Catalog, load_catalog
from connector_service.connections.credentials import Credentials
from connector_service.connectors.http import create_http_client
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.jobs.store import TYPES as JOB_TYPES
from connector_service.oauth.background import BackgroundRefresher
from connector_service.oauth.refresh import RefreshCoordinator
from connector_service.platform import egress
from connector_service.vault.port import VaultPort

log = logging.getLogger("connector_service.server")

UCF_SERVICES = [
    connectors_pb2.DESCRIPTOR.services_by_name["ConnectorService"].full_name,
    connections_pb2.DESCRIPTOR.services_by_name["ConnectionService"].full_name,
    resources_pb2.DESCRIPTOR.services_by_name["ResourceService"].full_name,
    jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
    connect_pb2.DESCRIPTOR.services_by_name["ConnectSessionService"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["EventEndpointService"].full_name,
    schedules_pb2.DESCRIPTOR.services_by_name["ScheduleService"].full_name,
    proxy_pb2.DESCRIPTOR.services_by_name["ProxyService"].full_name,
]


@dataclass
class ConnectorServer:
    """The gRPC server plus what must start and stop with it."""

    grpc_server: grpc.aio.Server
    monitor: HealthPublisher
    api_keys: ApiKeyStore
    credentials: Credentials
    coordinator: RefreshCoordinator
    port: int
    #: Job workers and webhook forwarder (None without a connector registry).
    background: Background | None = None
    #: Refreshes OAuth2 credentials ahead of expiry, read or not.
    token_refresher: BackgroundRefresher | None = None

    async def start(self) -> None:
        await self.monitor.start()
        await self.grpc_server.start()
        if self.background is not None:
            await self.background.start()
        if self.token_refresher is not None:
            self.token_refresher.start()

    async def stop(self, grace: float | None = None) -> None:
        if self.token_refresher is not None:
            await self.token_refresher.stop()
        if self.background is not None:
            await self.background.stop(grace or 0)
        await self.monitor.stop()
        await self.grpc_server.stop(grace)
        await self.coordinator.wait_idle()

    async def wait_for_termination(self) -> None:
        await self.grpc_server.wait_for_termination()


async def create_server(
    settings: Settings,
    db: AsyncDatabase[dict[str, Any]],
    vault: VaultPort,
    http: httpx.AsyncClient,
    *,
    catalog: Catalog | None = None,
    registry: ConnectorRegistry | None = None,
    append_db: AsyncDatabase[dict[str, Any]] | None = None,
) -> tuple[ConnectorServer, int]:
    """Everything wired and the port bound. `registry` holds the resource
    connectors (capabilities and ResourceService); without one, connectors
    report no capabilities and resource RPCs answer unimplemented. `append_db` is
    `db` on a client without retryable writes, for the audit log's idempotent appends."""
    catalog = catalog or load_catalog(settings.ucf_providers_file)
    parts = await wire(settings, db, vault, http, catalog=catalog, registry=registry, append_db=append_db)
    server = grpc.aio.server(
        interceptors=[
            *([RpcMetricsInterceptor()] if settings.connector_metrics_port else []),
            RequestContextInterceptor(),
            AuthInterceptor(parts.authenticator),
        ]
    )
    connectors_pb2_grpc.add_ConnectorServiceServicer_to_server(parts.connector_servicer, server)
    connections_pb2_grpc.add_ConnectionServiceServicer_to_server(parts.connection_servicer, server)
    proxy_pb2_grpc.add_ProxyServiceServicer_to_server(parts.proxy_servicer, server)
    no_connectors = "this process runs without resource connectors"
    resources_pb2_grpc.add_ResourceServiceServicer_to_server(
        parts.resource_servicer or unimplemented_servicer(resources_pb2_grpc.ResourceServiceServicer, no_connectors),
        server,
    )
    background = parts.background
    jobs_pb2_grpc.add_JobServiceServicer_to_server(
        unimplemented_servicer(jobs_pb2_grpc.JobServiceServicer, no_connectors)
        if background is None
        else background.jobs,
        server,
    )
    schedules_pb2_grpc.add_ScheduleServiceServicer_to_server(
        unimplemented_servicer(schedules_pb2_grpc.ScheduleServiceServicer, no_connectors)
        if background is None
        else background.schedules,
        server,
    )
    webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(
        unimplemented_servicer(webhooks_pb2_grpc.WebhookServiceServicer, no_connectors)
        if background is None
        else background.webhooks,
        server,
    )
    connect_pb2_grpc.add_ConnectSessionServiceServicer_to_server(parts.connect_session_servicer, server)
    events_pb2_grpc.add_EventEndpointServiceServicer_to_server(
        parts.event_endpoint_servicer
        or unimplemented_servicer(events_pb2_grpc.EventEndpointServiceServicer, no_connectors),
        server,
    )

    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]  # grpc-stubs lacks grpc_health's aio
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*UCF_SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    monitor = health_monitor(health_servicer, db, vault, UCF_SERVICES, settings.connector_health_interval_seconds)

    port = server.add_insecure_port(f"{settings.connector_host}:{settings.connector_port}")
    if port == 0:
        raise RuntimeError(f"could not bind {settings.connector_host}:{settings.connector_port}")
    return (
        ConnectorServer(
            server,
            monitor,
            parts.api_keys,
            parts.credentials,
            parts.coordinator,
            port,
            background,
            parts.token_refresher,
        ),
        port,
    )


async def serve(settings: Settings | None = None) -> None:
    """Runs the service until SIGTERM/SIGINT."""
    from connector_service.vault.client import VaultClient

    settings = settings or Settings()
    configure_logging("connector", settings.log_level, settings.log_json)
    configure_tracing("ucf-connector", (GRPC_SERVER, GRPC_CLIENT, HTTPX, PYMONGO))
    stop_metrics = serve_metrics(settings.connector_host, settings.connector_metrics_port)
    catalog = load_catalog(settings.ucf_providers_file)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    # The audit log's appends retry on their own (see AuditLog): no per-command session bookkeeping.
    appends: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True, retryWrites=False)
    policy = egress.EgressPolicy.from_setting(settings.ucf_egress_allowed_networks)
    egress.configure(policy)
    log.info("egress: public addresses%s", "".join(f", {network}" for network in policy.allowed) or " only")
    # Read timeout below the 30 s refresh lease, so a slow token endpoint is never taken for a lost refresh.
    http = create_http_client(read_timeout=15.0, policy=policy)
    vault = VaultClient.from_settings(settings)
    registry = ConnectorRegistry.default()
    queue = QueueGauges(mongo[settings.mongodb_db], JOB_TYPES)
    try:
        server, port = await create_server(
            settings,
            mongo[settings.mongodb_db],
            vault,
            http,
            catalog=catalog,
            registry=registry,
            append_db=appends[settings.mongodb_db],
        )
        await server.start()
        queue.start()
        log.info("connector service listening on %s:%s", settings.connector_host, port)
        await until_stop_signal()
        log.info("shutting down (grace %ss)", settings.connector_shutdown_grace_seconds)
        await server.stop(settings.connector_shutdown_grace_seconds)
    finally:
        await queue.stop()
        if stop_metrics is not None:
            stop_metrics()
        await registry.aclose()
        await vault.close()
        await http.aclose()
        await appends.close()
        await mongo.close()
