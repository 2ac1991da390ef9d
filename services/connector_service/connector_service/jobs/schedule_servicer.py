"""gRPC `ScheduleService`: one sync schedule per connection (put, get, delete).

Scoped to the caller's tenant like every other call: another tenant's
connection is not_found. Writes are audited (`schedule.updated`,
`schedule.deleted`). `every` is at least `min_interval_seconds`
(`UCF_SCHEDULE_MIN_INTERVAL_SECONDS`); `fullEvery`, when given, is at least
`every`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from ucf.connector.v1 import schedules_pb2, schedules_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError, invalid

from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.model import REVOKED
from connector_service.connections.store import ConnectionStore
from connector_service.jobs.schedules import ScheduleStore, parse_duration
from connector_service.jobs.servicer import _containers
from connector_service.jobs.shapes import STREAMS
from connector_service.platform import wire

#: A year: longer intervals are almost certainly a mistake (and would overflow nothing, but help no one).
_MAX_SECONDS = 366 * 86400


def schedule_to_proto(doc: dict[str, Any]) -> schedules_pb2.Schedule:
    return schedules_pb2.Schedule(
        connection_id=doc["connection_id"],
        connector_id=doc["connector_id"],
        every_seconds=doc["every_seconds"],
        streams=doc.get("streams", []),
        containers=doc.get("containers", []),
        full_every_seconds=doc.get("full_every_seconds") or 0,
        paused=bool(doc.get("paused")),
        next_run_at=None if doc.get("paused") else wire.timestamp(doc.get("next_run_at")),
        last_job_id=doc.get("last_job_id") or "",
        last_run_at=wire.timestamp(doc.get("last_run_at")),
        skipped=int(doc.get("skipped") or 0),
        last_skipped_at=wire.timestamp(doc.get("last_skipped_at")),
        runs=int(doc.get("runs") or 0),
        created_at=wire.timestamp(doc.get("created_at")),
        updated_at=wire.timestamp(doc.get("updated_at")),
    )


class ScheduleServicer(schedules_pb2_grpc.ScheduleServiceServicer):
    def __init__(
        self,
        *,
        schedules: ScheduleStore,
        connections: ConnectionStore,
        audit_log: AuditLog,
        principal: Callable[[], Any],
        min_interval_seconds: int,
        on_change: Callable[[], None],
    ):
        self._schedules, self._connections, self._audit = schedules, connections, audit_log
        self._principal, self._min, self._on_change = principal, min_interval_seconds, on_change

    def _interval(self, value: str, field: str) -> int:
        seconds = parse_duration(value, field)
        if not self._min <= seconds <= _MAX_SECONDS:
            raise invalid(f"{field} must be between {self._min} seconds and 366 days", field=field)
        return seconds

    async def PutSchedule(
        self,
        request: schedules_pb2.PutScheduleRequest,
        context: grpc.aio.ServicerContext[schedules_pb2.PutScheduleRequest, schedules_pb2.PutScheduleResponse],
    ) -> schedules_pb2.PutScheduleResponse:
        tenant = self._principal().tenant_id
        every = self._interval(request.every, "every")
        full_every = self._interval(request.full_every, "fullEvery") if request.full_every else 0
        if full_every and full_every < every:
            raise invalid("fullEvery must be at least every", field="fullEvery")
        unknown = [s for s in request.streams if s not in STREAMS]
        if unknown:
            raise invalid(f"streams must be among {', '.join(STREAMS)}", field="streams")
        streams = [s for s in STREAMS if s in request.streams]
        containers = _containers(list(request.containers))
        conn = await self._connections.get(tenant, request.connection_id)
        if conn.is_revoked:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION, "the connection is revoked; connect it again", {"status": REVOKED}
            )
        doc, created = await self._schedules.put(
            tenant,
            conn,
            every_seconds=every,
            streams=streams,
            containers=containers,
            full_every_seconds=full_every,
            paused=request.paused,
        )
        await self._audit.record(
            tenant,
            audit.SCHEDULE_UPDATED,
            audit.SUCCESS,
            connection_id=conn.id,
            connector_id=conn.connector_id,
            every_seconds=every,
            full_every_seconds=full_every,
            paused=request.paused,
            created=created,
        )
        self._on_change()
        return schedules_pb2.PutScheduleResponse(schedule=schedule_to_proto(doc), created=created)

    async def GetSchedule(
        self,
        request: schedules_pb2.GetScheduleRequest,
        context: grpc.aio.ServicerContext[schedules_pb2.GetScheduleRequest, schedules_pb2.GetScheduleResponse],
    ) -> schedules_pb2.GetScheduleResponse:
        doc = await self._schedules.get(self._principal().tenant_id, request.connection_id)
        return schedules_pb2.GetScheduleResponse(schedule=schedule_to_proto(doc))

    async def DeleteSchedule(
        self,
        request: schedules_pb2.DeleteScheduleRequest,
        context: grpc.aio.ServicerContext[schedules_pb2.DeleteScheduleRequest, schedules_pb2.DeleteScheduleResponse],
    ) -> schedules_pb2.DeleteScheduleResponse:
        tenant = self._principal().tenant_id
        doc = await self._schedules.get(tenant, request.connection_id)
        await self._schedules.delete(tenant, request.connection_id)
        await self._audit.record(
            tenant,
            audit.SCHEDULE_DELETED,
            audit.SUCCESS,
            connection_id=doc["connection_id"],
            connector_id=doc["connector_id"],
        )
        return schedules_pb2.DeleteScheduleResponse(connection_id=doc["connection_id"])
