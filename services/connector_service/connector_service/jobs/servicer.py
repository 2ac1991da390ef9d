"""gRPC `JobService`: create, observe and cancel jobs; read the records feed.

Every call is scoped to the caller's tenant. A job names a connection that
must exist for the tenant and belong to the job's connector (another
tenant's or connector's connection is not_found, like a missing one).
Streams default to those the connector can read among containers and
items; comments are synced only when asked for (one upstream listing per
item).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from ucf.connector.v1 import jobs_pb2, jobs_pb2_grpc
from ucf_common.errors import invalid, not_found

from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.store import ConnectionStore
from connector_service.connectors.base import Capability
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.jobs.feed import RecordFeed
from connector_service.jobs.shapes import CONTAINERS, ITEMS, STREAMS
from connector_service.jobs.store import TYPES, JobStore
from connector_service.jobs.sync import required_capabilities
from connector_service.platform import wire

_MAX_CONTAINERS = 500


def job_to_proto(doc: dict[str, Any]) -> jobs_pb2.Job:
    params = doc.get("params") or {}
    counts = doc.get("counts") or {}
    return jobs_pb2.Job(
        id=doc["_id"],
        connector_id=doc["connector_id"],
        connection_id=doc["connection_id"],
        type=doc["type"],
        status=doc["status"],
        progress=int(doc.get("progress") or 0),
        counts=jobs_pb2.JobCounts(**counts),
        error=doc.get("error") or "",
        params=jobs_pb2.JobParams(
            containers=params.get("containers", []), streams=params.get("streams", []), full=bool(params.get("full"))
        ),
        created_at=wire.timestamp(doc.get("created_at")),
        started_at=wire.timestamp(doc.get("started_at")),
        finished_at=wire.timestamp(doc.get("finished_at")),
        result=wire.struct(doc["result"]) if doc.get("result") else None,
        not_before=wire.timestamp(doc.get("not_before")) if doc.get("waiting_for") else None,
        waiting_for=doc.get("waiting_for") or "",
        scheduled=bool(doc.get("scheduled")),
    )


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(
        self,
        *,
        jobs: JobStore,
        connections: ConnectionStore,
        registry: ConnectorRegistry | None,
        feed: RecordFeed,
        principal: Callable[[], Any],
        wake: Callable[[], None],
        audit_log: AuditLog,
    ):
        self._jobs, self._connections, self._registry = jobs, connections, registry
        self._feed, self._principal, self._wake, self._audit = feed, principal, wake, audit_log

    async def enqueue(
        self,
        tenant_id: str,
        connector_id: str,
        connection_id: str,
        job_type: str,
        containers: list[str],
        streams: list[str],
        full: bool,
        *,
        scheduled: bool = False,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        """Validates and queues a job (also used by the webhook receiver and the scheduler, which passes
        its tick's `job_id` so that starting a tick twice queues one job)."""
        if job_type not in TYPES:
            raise invalid(f"type must be one of {', '.join(TYPES)}", field="type")
        conn = await self._connections.get(tenant_id, connection_id)
        if conn.connector_id != connector_id:
            raise not_found("connection", connection_id)
        if self._registry is None:
            raise not_found("connector implementation", connector_id)
        connector = self._registry.get(connector_id)
        params: dict[str, Any] = {
            "containers": _containers(containers),
            "streams": self._streams(connector, streams, job_type),
            "full": full,
        }
        if job_type != "probe":
            for capability in required_capabilities(params["streams"]):
                connector.require(capability)
        doc = await self._jobs.create(
            tenant_id, connector_id, connection_id, job_type, params, scheduled=scheduled, job_id=job_id
        )
        self._wake()
        return doc

    @staticmethod
    def _streams(connector: Any, requested: list[str], job_type: str) -> list[str]:
        if job_type == "probe":
            return []
        unknown = [s for s in requested if s not in STREAMS]
        if unknown:
            raise invalid(f"streams must be among {', '.join(STREAMS)}", field="params.streams")
        if requested:
            return [s for s in STREAMS if s in requested]
        defaults = {CONTAINERS: Capability.CONTAINERS, ITEMS: Capability.ITEMS}
        return [s for s, c in defaults.items() if c in connector.capabilities]

    async def CreateJob(
        self,
        request: jobs_pb2.CreateJobRequest,
        context: grpc.aio.ServicerContext[jobs_pb2.CreateJobRequest, jobs_pb2.CreateJobResponse],
    ) -> jobs_pb2.CreateJobResponse:
        if not request.connector_id:
            raise invalid("connectorId is required", field="connectorId")
        if not request.connection_id:
            raise invalid("connectionId is required", field="connectionId")
        tenant_id = self._principal().tenant_id
        doc = await self.enqueue(
            tenant_id,
            request.connector_id,
            request.connection_id,
            request.type,
            list(request.params.containers),
            list(request.params.streams),
            request.params.full,
        )
        await self._audit.record(
            tenant_id,
            audit.JOB_CREATED,
            audit.SUCCESS,
            connection_id=doc["connection_id"],
            connector_id=doc["connector_id"],
            job_id=doc["_id"],
            type=doc["type"],
        )
        return jobs_pb2.CreateJobResponse(job=job_to_proto(doc))

    async def GetJob(
        self,
        request: jobs_pb2.GetJobRequest,
        context: grpc.aio.ServicerContext[jobs_pb2.GetJobRequest, jobs_pb2.GetJobResponse],
    ) -> jobs_pb2.GetJobResponse:
        return jobs_pb2.GetJobResponse(
            job=job_to_proto(await self._jobs.get(self._principal().tenant_id, request.job_id))
        )

    async def ListJobs(
        self,
        request: jobs_pb2.ListJobsRequest,
        context: grpc.aio.ServicerContext[jobs_pb2.ListJobsRequest, jobs_pb2.ListJobsResponse],
    ) -> jobs_pb2.ListJobsResponse:
        docs, nxt = await self._jobs.list(
            self._principal().tenant_id, request.connection_id, request.cursor, request.limit
        )
        return jobs_pb2.ListJobsResponse(items=[job_to_proto(d) for d in docs], next=nxt)

    async def CancelJob(
        self,
        request: jobs_pb2.CancelJobRequest,
        context: grpc.aio.ServicerContext[jobs_pb2.CancelJobRequest, jobs_pb2.CancelJobResponse],
    ) -> jobs_pb2.CancelJobResponse:
        tenant_id = self._principal().tenant_id
        doc = await self._jobs.cancel(tenant_id, request.job_id)
        await self._audit.record(
            tenant_id,
            audit.JOB_CANCELLED,
            audit.SUCCESS,
            connection_id=doc["connection_id"],
            connector_id=doc["connector_id"],
            job_id=doc["_id"],
            status=doc["status"],
        )
        return jobs_pb2.CancelJobResponse(job=job_to_proto(doc))

    async def ListRecords(
        self,
        request: jobs_pb2.ListRecordsRequest,
        context: grpc.aio.ServicerContext[jobs_pb2.ListRecordsRequest, jobs_pb2.ListRecordsResponse],
    ) -> jobs_pb2.ListRecordsResponse:
        tenant_id = self._principal().tenant_id
        if request.stream and request.stream not in STREAMS:
            raise invalid(f"stream must be one of {', '.join(STREAMS)}", field="stream")
        await self._connections.get(tenant_id, request.connection_id)
        streams = (request.stream,) if request.stream else STREAMS
        changes, nxt = await self._feed.page(
            tenant_id, request.connection_id, streams, request.cursor, wire.page_size(request.limit)
        )
        return jobs_pb2.ListRecordsResponse(
            items=[
                jobs_pb2.Record(
                    id=c.record_id,
                    stream=c.stream,
                    action=c.action,
                    record=wire.struct(c.record),
                    record_json=c.text.encode(),
                    committed_at=wire.timestamp(c.committed_at),
                )
                for c in changes
            ],
            next=nxt,
        )


def _containers(values: list[str]) -> list[str]:
    if len(values) > _MAX_CONTAINERS or any(not v or len(v) > 300 or not v.isprintable() for v in values):
        raise invalid(
            f"containers must be at most {_MAX_CONTAINERS} non-empty printable ids", field="params.containers"
        )
    return list(dict.fromkeys(values))
