"""Builds the job and webhook machinery for `server.create_server` and runs it with the server.

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
from connector_service.catalog.settings import ConnectorSettingsStore
from connector_service.connections.audit import AuditLog
from connector_service.connections.store import ConnectionStore
from connector_service.connections.sync_states import SyncStateStore
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.events.emitter import EventEmitter
from connector_service.events.store import EventEndpointStore
from connector_service.jobs.feed import RecordFeed
from connector_service.jobs.leases import StreamLeases
from connector_service.jobs.records import RecordStore
from connector_service.jobs.runner import JobRunner
from connector_service.jobs.schedule_servicer import ScheduleServicer
from connector_service.jobs.scheduler import Scheduler
from connector_service.jobs.schedules import ScheduleStore
from connector_service.jobs.servicer import JobServicer
from connector_service.jobs.store import JobStore
from connector_service.jobs.sync import SyncEngine
from connector_service.jobs.worker import JobWorkers
from connector_service.oauth.clients import OAuthClients
from connector_service.resources.contexts import ConnectorContexts
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


async def create_background(
    settings: Settings,
    db: AsyncDatabase,
    *,
    vault: Any,
    http: httpx.AsyncClient,
    registry: ConnectorRegistry,
    contexts: ConnectorContexts,
    connections: ConnectionStore,
    sync_states: SyncStateStore,
    audit_log: AuditLog,
    principal: Callable[[], Any],
) -> Background:
    job_store, leases, hooks, schedule_store = JobStore(db), StreamLeases(db), WebhookStore(db), ScheduleStore(db)
    records = RecordStore(db, leases)
    for store in (job_store, leases, records, hooks, schedule_store):
        await store.create_indexes()
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
        client_secret=OAuthClients(ConnectorSettingsStore(db), vault, http).client_secret,
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
        tenant_id: str, connector_id: str, connection_id: str, containers: list[str], streams: list[str], full: bool
    ) -> dict[str, Any]:
        return await job_servicer.enqueue(
            tenant_id, connector_id, connection_id, "sync", containers, streams, full, scheduled=True
        )

    scheduler = Scheduler(
        schedule_store, job_store, scheduled, audit_log, poll_seconds=settings.ucf_scheduler_poll_seconds
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
    events = await wire_events(db, connections, job_store, hooks, audit_log, forwarder.wake)
    return Background(
        job_servicer, webhook_servicer, workers, forwarder, refresher, schedule_servicer, scheduler, events
    )


async def wire_events(
    db: AsyncDatabase,
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
