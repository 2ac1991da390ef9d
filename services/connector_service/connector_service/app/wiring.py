"""The one place that builds the connector service's parts.

`wire` makes every store once (and its indexes), then the services that use
them, and hands each the same instances: one `ConnectorSettingsStore` with
one cache, one `OAuthClients`, one `Credentials`. `server.create_server`
registers the servicers it returns on a gRPC server and adds health and
reflection; nothing else constructs a store.

`Background.start` starts the job workers, the webhook forwarder and the
webhook refresher; `stop` asks running jobs to stop at their next batch
boundary and hand themselves back (grace = the server's shutdown grace), then
stops forwarding and refreshing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from connector_service.app.settings import Settings
from connector_service.auth.api_keys import ApiKeyStore
from connector_service.auth.interceptor import Authenticator, current_principal
from connector_service.auth.throttle import AuthThrottle
from connector_service.catalog.providers import Catalog
from connector_service.catalog.servicer import ConnectorServicer
from connector_service.catalog.settings import ConnectorSettingsStore
from connector_service.connect.principal import SessionGuard
from connector_service.connect.servicer import ConnectSessionServicer
from connector_service.connect.sessions import ConnectSessionStore
from connector_service.connect.tenant_settings import TenantSettingsStore
from connector_service.connections.audit import AuditLog
from connector_service.connections.credentials import Credentials, VaultTokenStore
from connector_service.connections.metadata import system_keys
from connector_service.connections.servicer import ConnectionServicer
from connector_service.connections.store import ConnectionStore
from connector_service.connections.sync_states import SyncStateStore
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.connectors.retry import RetryPolicy
from connector_service.events.emitter import EventEmitter
from connector_service.events.servicer import EventEndpointServicer
from connector_service.events.store import EventEndpointStore
from connector_service.jobs.feed import RecordFeed
from connector_service.jobs.leases import StreamLeases
from connector_service.jobs.legacy import migrate
from connector_service.jobs.records import RecordStore
from connector_service.jobs.runner import JobRunner
from connector_service.jobs.schedule_servicer import ScheduleServicer
from connector_service.jobs.scheduler import Scheduler
from connector_service.jobs.schedules import ScheduleStore
from connector_service.jobs.servicer import JobServicer
from connector_service.jobs.store import JobStore
from connector_service.jobs.sync import SyncEngine
from connector_service.jobs.worker import JobWorkers
from connector_service.oauth.background import BackgroundRefresher
from connector_service.oauth.clients import OAuthClients
from connector_service.oauth.refresh import RefreshCoordinator
from connector_service.onboarding.flow import Onboarding
from connector_service.onboarding.probing import Prober
from connector_service.onboarding.sessions import OAuthSessionStore
from connector_service.proxy.forwarding import Proxy
from connector_service.proxy.servicer import ProxyServicer
from connector_service.resources.contexts import ConnectorContexts
from connector_service.resources.servicer import ResourceServicer
from connector_service.vault.port import VaultPort
from connector_service.webhooks.forwarder import Forwarder
from connector_service.webhooks.receiver import Receiver
from connector_service.webhooks.refresher import WebhookRefresher
from connector_service.webhooks.servicer import WebhookServicer
from connector_service.webhooks.store import WebhookStore


@dataclass
class Background:
    jobs: JobServicer
    webhooks: WebhookServicer
    workers: JobWorkers
    forwarder: Forwarder
    refresher: WebhookRefresher
    schedules: ScheduleServicer
    scheduler: Scheduler
    #: The tenants' event endpoints (EventEndpointService).
    event_endpoints: EventEndpointStore

    async def start(self) -> None:
        self.workers.start()
        self.forwarder.start()
        self.refresher.start()
        self.scheduler.start()

    async def stop(self, grace: float) -> None:
        await self.scheduler.stop()
        await self.workers.stop(grace)
        await self.forwarder.stop()
        await self.refresher.stop()


async def _create_background(
    settings: Settings,
    db: AsyncDatabase[Any],
    *,
    vault: VaultPort,
    http: httpx.AsyncClient,
    registry: ConnectorRegistry,
    contexts: ConnectorContexts,
    connections: ConnectionStore,
    sync_states: SyncStateStore,
    audit_log: AuditLog,
    oauth_clients: OAuthClients,
    principal: Callable[[], Any],
) -> Background:
    job_store, leases, hooks, schedule_store = JobStore(db), StreamLeases(db), WebhookStore(db), ScheduleStore(db)
    records = RecordStore(db, leases)
    for store in (job_store, leases, hooks, schedule_store):
        await store.create_indexes()
    await migrate(db)  # records of earlier layouts (the record store itself needs no index)
    lease = timedelta(seconds=settings.ucf_job_lease_seconds)
    engine = SyncEngine(
        records,
        sync_states,
        page_size=settings.ucf_sync_page_size,
        lookback=timedelta(seconds=settings.ucf_sync_lookback_seconds),
    )
    runner = JobRunner(
        job_store,
        leases,
        engine,
        registry,
        contexts,
        lease=lease,
        retry_delay=timedelta(seconds=settings.ucf_job_poll_seconds),
    )
    workers = JobWorkers(
        job_store,
        runner,
        concurrency=settings.ucf_job_concurrency,
        lease=lease,
        poll_seconds=settings.ucf_job_poll_seconds,
    )
    job_servicer = JobServicer(
        jobs=job_store,
        connections=connections,
        registry=registry,
        feed=RecordFeed(db),
        principal=principal,
        wake=workers.wake,
        audit_log=audit_log,
    )

    async def trigger(
        tenant_id: str, connector_id: str, connection_id: str, containers: list[str], streams: list[str]
    ) -> None:
        params = {"containers": containers, "streams": streams, "full": False}
        if await job_store.find_queued(tenant_id, connection_id, "sync", params) is None:
            await job_servicer.enqueue(tenant_id, connector_id, connection_id, "sync", containers, streams, False)

    forwarder = Forwarder(
        hooks,
        vault,
        http,
        attempts=settings.ucf_webhook_forward_attempts,
        base_delay=settings.ucf_webhook_retry_base_seconds,
        poll_seconds=settings.ucf_job_poll_seconds,
    )
    receiver = Receiver(
        hooks,
        vault,
        registry,
        trigger,
        tolerance=timedelta(seconds=settings.ucf_webhook_tolerance_seconds),
        on_forward=forwarder.wake,
        client_secret=oauth_clients.client_secret,
    )
    webhook_servicer = WebhookServicer(
        store=hooks,
        receiver=receiver,
        connections=connections,
        registry=registry,
        contexts=contexts,
        vault=vault,
        audit_log=audit_log,
        public_url=settings.ucf_public_url,
        principal=principal,
    )
    refresher = WebhookRefresher(hooks, registry, contexts, interval=settings.ucf_webhook_refresh_interval_seconds)

    async def scheduled(
        tenant_id: str,
        connector_id: str,
        connection_id: str,
        containers: list[str],
        streams: list[str],
        full: bool,
        job_id: str,
    ) -> dict[str, Any]:
        return await job_servicer.enqueue(
            tenant_id, connector_id, connection_id, "sync", containers, streams, full, scheduled=True, job_id=job_id
        )

    scheduler = Scheduler(
        schedule_store,
        job_store,
        scheduled,
        audit_log,
        poll_seconds=settings.ucf_scheduler_poll_seconds,
        claim_seconds=settings.ucf_schedule_claim_seconds,
    )
    connections.on_removed(schedule_store.delete_quietly)
    schedule_servicer = ScheduleServicer(
        schedules=schedule_store,
        connections=connections,
        audit_log=audit_log,
        principal=principal,
        min_interval_seconds=settings.ucf_schedule_min_interval_seconds,
        on_change=scheduler.wake,
    )
    events = await _wire_events(db, connections, job_store, hooks, audit_log, forwarder.wake)
    return Background(
        job_servicer, webhook_servicer, workers, forwarder, refresher, schedule_servicer, scheduler, events
    )


async def _wire_events(
    db: AsyncDatabase[Any],
    connections: ConnectionStore,
    jobs: JobStore,
    deliveries: WebhookStore,
    audit_log: AuditLog,
    wake: Callable[[], None],
) -> EventEndpointStore:
    """Lifecycle events from the stores where state changes, queued for the forwarder."""
    endpoints = EventEndpointStore(db)
    await endpoints.create_indexes()
    emitter = EventEmitter(endpoints, deliveries, audit_log, wake)
    connections.events = emitter

    async def job_finished(job: dict[str, Any]) -> None:
        conn = await connections.find_by_id(job["tenant_id"], job["connection_id"])
        await emitter.job_finished(job, conn)

    jobs.on_finish = job_finished
    return endpoints


@dataclass
class Wiring:
    """Every store and service of one connector-service process, each built once."""

    catalog: Catalog
    api_keys: ApiKeyStore
    audit_log: AuditLog
    connections: ConnectionStore
    connector_settings: ConnectorSettingsStore
    sync_states: SyncStateStore
    oauth_clients: OAuthClients
    coordinator: RefreshCoordinator
    credentials: Credentials
    onboarding: Onboarding
    contexts: ConnectorContexts
    authenticator: Authenticator
    connector_servicer: ConnectorServicer
    connection_servicer: ConnectionServicer
    connect_session_servicer: ConnectSessionServicer
    proxy_servicer: ProxyServicer
    #: Refreshes OAuth2 credentials ahead of expiry, read or not.
    token_refresher: BackgroundRefresher
    #: The resource servicer, job and webhook machinery; None without a connector registry.
    resource_servicer: ResourceServicer | None
    background: Background | None
    event_endpoint_servicer: EventEndpointServicer | None


async def wire(
    settings: Settings,
    db: AsyncDatabase[Any],
    vault: VaultPort,
    http: httpx.AsyncClient,
    *,
    catalog: Catalog,
    registry: ConnectorRegistry | None = None,
    append_db: AsyncDatabase[Any] | None = None,
) -> Wiring:
    """Builds the stores (creating their indexes), then the services over them. `append_db` is
    `db` on a client without retryable writes, for the audit log's idempotent appends."""
    api_keys = ApiKeyStore(db)
    audit_log = AuditLog(db, append_db=append_db)
    throttle = AuthThrottle(
        db, limit=settings.ucf_auth_failure_limit, window_seconds=settings.ucf_auth_failure_window_seconds
    )
    connections = ConnectionStore(db)
    connector_settings = ConnectorSettingsStore(db)
    sessions = OAuthSessionStore(db)
    sync_states = SyncStateStore(db)
    connect_sessions = ConnectSessionStore(db, timedelta(seconds=settings.ucf_connect_session_ttl_seconds))
    tenant_settings = TenantSettingsStore(db)
    for store in (
        api_keys, audit_log, throttle, connections, connector_settings, sessions, sync_states,
        connect_sessions, tenant_settings,
    ):  # fmt: skip
        await store.create_indexes()
    await connections.adopt_system_metadata(lambda connector_id: system_keys(catalog.get(connector_id)))

    oauth_clients = OAuthClients(connector_settings, vault, http)
    coordinator = RefreshCoordinator(db, VaultTokenStore(vault, connections, audit_log))
    credentials = Credentials(
        connections=connections,
        vault=vault,
        audit_log=audit_log,
        catalog=catalog,
        oauth_clients=oauth_clients,
        http=http,
        refresh_margin_seconds=settings.ucf_refresh_margin_seconds,
        coordinator=coordinator,
    )
    onboarding = Onboarding(
        credentials=credentials,
        connections=connections,
        sessions=sessions,
        settings=connector_settings,
        oauth_clients=oauth_clients,
        audit_log=audit_log,
        http=http,
        public_url=settings.ucf_public_url,
    )
    contexts = ConnectorContexts(
        credentials,
        catalog,
        connector_settings,
        http,
        retry=RetryPolicy(max_wait=settings.ucf_rate_limit_inline_wait_seconds),
    )
    token_refresher = BackgroundRefresher(
        db,
        coordinator=coordinator,
        store=VaultTokenStore(vault, connections, audit_log),
        connections=connections,
        oauth_clients=oauth_clients,
        catalog=catalog,
        audit_log=audit_log,
        ahead_seconds=max(settings.ucf_background_refresh_ahead_seconds, settings.ucf_refresh_margin_seconds),
        interval_seconds=settings.ucf_background_refresh_interval_seconds,
    )
    await token_refresher.create_indexes()
    authenticator = Authenticator(
        api_keys,
        throttle=throttle,
        audit_log=audit_log,
        trusted_proxies=settings.ucf_trusted_proxies.split(","),
        sessions=SessionGuard(connect_sessions, settings.ucf_public_url),
    )
    connector_servicer = ConnectorServicer(
        catalog=catalog,
        settings=connector_settings,
        connections=connections,
        credentials=credentials,
        onboarding=onboarding,
        vault=vault,
        audit_log=audit_log,
        capabilities=registry.capabilities if registry is not None else None,
        prober=Prober(registry, contexts, catalog, http) if registry is not None else None,
    )
    connection_servicer = ConnectionServicer(
        catalog=catalog,
        connections=connections,
        credentials=credentials,
        sync_states=sync_states,
        audit_log=audit_log,
    )
    resource_servicer = None
    background = None
    if registry is not None:
        resource_servicer = ResourceServicer(registry, contexts, current_principal)
        background = await _create_background(
            settings,
            db,
            vault=vault,
            http=http,
            registry=registry,
            contexts=contexts,
            connections=connections,
            sync_states=sync_states,
            audit_log=audit_log,
            oauth_clients=oauth_clients,
            principal=current_principal,
        )
    connect_session_servicer = ConnectSessionServicer(
        sessions=connect_sessions,
        tenant_settings=tenant_settings,
        catalog=catalog,
        audit_log=audit_log,
        public_url=settings.ucf_public_url,
    )
    proxy = Proxy(
        credentials=credentials,
        audit_log=audit_log,
        http=http,
        max_response_bytes=settings.ucf_proxy_max_response_bytes,
    )
    event_endpoint_servicer = (
        None
        if background is None
        else EventEndpointServicer(endpoints=background.event_endpoints, vault=vault, audit_log=audit_log)
    )
    return Wiring(
        catalog=catalog,
        api_keys=api_keys,
        audit_log=audit_log,
        connections=connections,
        connector_settings=connector_settings,
        sync_states=sync_states,
        oauth_clients=oauth_clients,
        coordinator=coordinator,
        credentials=credentials,
        onboarding=onboarding,
        contexts=contexts,
        authenticator=authenticator,
        connector_servicer=connector_servicer,
        connection_servicer=connection_servicer,
        connect_session_servicer=connect_session_servicer,
        proxy_servicer=ProxyServicer(proxy, current_principal),
        token_refresher=token_refresher,
        resource_servicer=resource_servicer,
        background=background,
        event_endpoint_servicer=event_endpoint_servicer,
    )
