"""Background jobs and the records feed they produce (JobService)."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response
from ucf.connector.v1 import jobs_pb2 as pb

from gateway.bodies import JobBody
from gateway.deps import Cursor, Limit, OptionalConnectionIdQuery, Rpc
from gateway.envelope import ok, to_json
from gateway.schemas import reply, reply_page

router = APIRouter(tags=["jobs"])

RecordStreamQuery = Annotated[
    Literal["containers", "items", "comments"] | None, Query(description="Only this stream's records; absent: all.")
]


@router.post("/connectors/{connector_id}/jobs", status_code=202, responses=reply(pb.Job.DESCRIPTOR, 202, "Queued"))
async def create_job(connector_id: str, body: JobBody, rpc: Rpc) -> Response:
    """Queue a sync, import or probe job; follow it with GET /jobs/{id}."""
    answer = await rpc(rpc.stubs.jobs.CreateJob, body.to_proto(pb.CreateJobRequest(), connector_id=connector_id))
    return ok(answer.job, status_code=202)


@router.get("/jobs", responses=reply_page(pb.Job.DESCRIPTOR))
async def list_jobs(
    rpc: Rpc, connection_id: OptionalConnectionIdQuery = "", cursor: Cursor = "", limit: Limit = None
) -> Response:
    request = pb.ListJobsRequest(connection_id=connection_id, cursor=cursor, limit=limit or 0)
    return ok(await rpc(rpc.stubs.jobs.ListJobs, request))


@router.get("/jobs/{job_id}", responses=reply(pb.Job.DESCRIPTOR))
async def get_job(job_id: str, rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.jobs.GetJob, pb.GetJobRequest(job_id=job_id))
    return ok(answer.job)


@router.post("/jobs/{job_id}/cancel", responses=reply(pb.Job.DESCRIPTOR))
async def cancel_job(job_id: str, rpc: Rpc) -> Response:
    answer = await rpc(rpc.stubs.jobs.CancelJob, pb.CancelJobRequest(job_id=job_id))
    return ok(answer.job)


@router.get("/connections/{connection_id}/records", responses=reply_page(pb.Record.DESCRIPTOR))
async def list_records(
    connection_id: str, rpc: Rpc, stream: RecordStreamQuery = None, cursor: Cursor = "", limit: Limit = None
) -> Response:
    """Committed changes in commit order; follow `next` to never miss or double-read one."""
    request = pb.ListRecordsRequest(connection_id=connection_id, stream=stream or "", cursor=cursor, limit=limit or 0)
    answer = await rpc(rpc.stubs.jobs.ListRecords, request)
    data = to_json(answer)
    for out, record in zip(data["items"], answer.items, strict=True):
        out.pop("recordJson", None)
        if record.record_json:  # spliced as sent: typed JSON, never parsed here
            out["record"] = orjson.Fragment(record.record_json)
    return ok(data)
