"""Per-connection sync schedules (ScheduleService)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response
from ucf.connector.v1 import schedules_pb2 as pb

from gateway.bodies import Body
from gateway.deps import Rpc
from gateway.envelope import ok
from gateway.schemas import reply

router = APIRouter(tags=["schedules"])


class ScheduleBody(Body):
    every: str | int = Field(description='A duration like "15m", "90s", "2h", "1d", or a number of seconds.')
    streams: list[str] | None = Field(
        None, description="containers | items | comments; default: what the connector reads."
    )
    containers: list[str] | None = None
    full_every: str | int | None = Field(
        None, description="Every run this long after the last full one is a full sync."
    )
    paused: bool | None = None

    def proto_json(self) -> dict[str, Any]:
        data = super().proto_json()
        for name in ("every", "fullEvery"):
            if name in data:
                data[name] = str(data[name])
        return data


@router.put("/connections/{connection_id}/schedule", responses=reply(pb.Schedule.DESCRIPTOR))
async def put_schedule(connection_id: str, body: ScheduleBody, rpc: Rpc) -> Response:
    """Create or replace the connection's sync schedule; it answers `nextRunAt` and `lastJobId`."""
    request = body.to_proto(pb.PutScheduleRequest(), connection_id=connection_id)
    answer = await rpc(rpc.stubs.schedules.PutSchedule, request)
    return ok(answer.schedule, status_code=201 if answer.created else 200)


@router.get("/connections/{connection_id}/schedule", responses=reply(pb.Schedule.DESCRIPTOR))
async def get_schedule(connection_id: str, rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.schedules.GetSchedule, pb.GetScheduleRequest(connection_id=connection_id))
    return ok(answer.schedule)


@router.delete("/connections/{connection_id}/schedule", responses=reply(pb.DeleteScheduleResponse.DESCRIPTOR))
async def delete_schedule(connection_id: str, rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.schedules.DeleteSchedule, pb.DeleteScheduleRequest(connection_id=connection_id))
    return ok(answer)
