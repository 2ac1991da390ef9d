"""Jobs (`jobs`): what was asked, where it stands, and who is running it.

Life cycle: queued → running → succeeded | failed | canceled. A worker claims
a job with one `find_one_and_update` that sets its worker token and a lease
(`lease_until`); while it runs, its heartbeat pushes the lease forward and
every checkpoint, renewal and final write matches on the token, so a worker
that lost its job (lease expired, another worker took over) cannot overwrite
its successor. A running job whose lease expired is claimable like a queued
one; its `checkpoint` says where to resume.

Tenant-facing methods take the tenant; `claim` is the workers' cross-tenant
queue read and returns the job's tenant with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError, not_found

from connector_service.app import metrics
from connector_service.jobs.records import Counts
from connector_service.platform import wire

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = "queued", "running", "succeeded", "failed", "canceled"
FINISHED = (SUCCEEDED, FAILED, CANCELED)
TYPES = ("sync", "import", "probe")
#: A job that took its worker down this many times is failed rather than retried forever.
MAX_ATTEMPTS = 5


class JobStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["jobs"]
        #: Awaited with the finished job document (lifecycle events); set by the wiring.
        self.on_finish: Any = None

    async def create_indexes(self) -> None:
        await self._col.create_index([("tenant_id", 1), ("connection_id", 1), ("_id", -1)])
        await self._col.create_index([("status", 1), ("not_before", 1)])
        await self._col.create_index([("status", 1), ("lease_until", 1)])

    async def create(
        self,
        tenant_id: str,
        connector_id: str,
        connection_id: str,
        job_type: str,
        params: dict[str, Any],
        *,
        scheduled: bool = False,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        """Queues a job. With `job_id` (a scheduled tick's, `schedules.tick_job_id`) a second create is
        no second job: it answers the job that exists."""
        moment = wire.now()
        doc = {
            "_id": job_id or wire.new_id("job"),
            "tenant_id": tenant_id,
            "connector_id": connector_id,
            "connection_id": connection_id,
            "type": job_type,
            "status": QUEUED,
            "progress": 0,
            "counts": Counts().as_dict(),
            "error": "",
            "params": params,
            "result": None,
            "created_at": moment,
            "started_at": None,
            "finished_at": None,
            "not_before": moment,
            "cancel_requested": False,
            "attempts": 0,
            "batch": 0,
            "checkpoint": None,
            "scheduled": scheduled,
            "waiting_for": "",
        }
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._col.find_one({"_id": doc["_id"], "tenant_id": tenant_id}) if job_id else None
            if existing is None:
                raise
            return existing
        return doc

    async def exists(self, tenant_id: str, job_id: str) -> bool:
        return await self._col.find_one({"_id": job_id, "tenant_id": tenant_id}, projection={"_id": 1}) is not None

    async def find_queued(
        self, tenant_id: str, connection_id: str, job_type: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """A queued job that would do exactly this (webhook bursts coalesce into it)."""
        return await self._col.find_one(
            {
                "tenant_id": tenant_id,
                "connection_id": connection_id,
                "type": job_type,
                "status": QUEUED,
                "params": params,
            }
        )

    async def active_sync(
        self, tenant_id: str, connection_id: str, streams: list[str], *, other_than: str = ""
    ) -> dict[str, Any] | None:
        """A queued or running sync/import of the connection that writes one of `streams` (any, when
        empty), other than job `other_than`."""
        query: dict[str, Any] = {
            "tenant_id": tenant_id,
            "connection_id": connection_id,
            "type": {"$in": ["sync", "import"]},
            "status": {"$in": [QUEUED, RUNNING]},
        }
        if streams:
            query["params.streams"] = {"$in": streams}
        if other_than:
            query["_id"] = {"$ne": other_than}
        return await self._col.find_one(query, projection={"_id": 1, "status": 1})

    async def get(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        doc = await self._col.find_one({"_id": job_id, "tenant_id": tenant_id}) if job_id else None
        if doc is None:
            raise not_found("job", job_id)
        return doc

    async def list(
        self, tenant_id: str, connection_id: str, cursor: str, limit: int
    ) -> tuple[list[dict[str, Any]], str]:
        """Newest first."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if connection_id:
            query["connection_id"] = connection_id
        return await wire.find_page(self._col, query, cursor, limit, newest_first=True)

    async def cancel(self, tenant_id: str, job_id: str) -> dict[str, Any]:
        """A queued job is canceled at once; a running one stops at its next batch boundary."""
        doc = await self._col.find_one_and_update(
            {"_id": job_id, "tenant_id": tenant_id, "status": QUEUED},
            {"$set": {"status": CANCELED, "finished_at": wire.now(), "cancel_requested": True}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self._col.find_one_and_update(
                {"_id": job_id, "tenant_id": tenant_id, "status": RUNNING},
                {"$set": {"cancel_requested": True}},
                return_document=ReturnDocument.AFTER,
            )
        if doc is None:
            doc = await self.get(tenant_id, job_id)
            if doc["status"] != CANCELED:
                raise UcfError(ErrorCode.FAILED_PRECONDITION, f"job already {doc['status']}", {"status": doc["status"]})
        return doc

    # --- workers -------------------------------------------------------------------

    async def claim(self, worker: str, lease: timedelta) -> dict[str, Any] | None:
        """The oldest runnable job (queued and due, or running with an expired lease), now ours."""
        moment = wire.now()
        return await self._col.find_one_and_update(
            {
                "$or": [
                    {"status": QUEUED, "not_before": {"$lte": moment}},
                    {"status": RUNNING, "lease_until": {"$lt": moment}},
                ]
            },
            {
                "$set": {"status": RUNNING, "worker": worker, "lease_until": moment + lease, "waiting_for": ""},
                "$inc": {"attempts": 1},
            },
            sort=[("_id", 1)],
            return_document=ReturnDocument.AFTER,
        )

    async def mark_started(self, job: dict[str, Any], worker: str) -> None:
        if job.get("started_at") is None:
            job["started_at"] = wire.now()
            await self._col.update_one(
                {"_id": job["_id"], "worker": worker, "started_at": None}, {"$set": {"started_at": job["started_at"]}}
            )

    async def renew(self, job_id: str, worker: str, until: datetime) -> dict[str, Any] | None:
        """Extends the lease; None when this worker no longer holds the job."""
        return await self._col.find_one_and_update(
            {"_id": job_id, "worker": worker, "status": RUNNING},
            {"$set": {"lease_until": until}},
            projection={"cancel_requested": 1},
            return_document=ReturnDocument.AFTER,
        )

    async def checkpoint(
        self, job_id: str, worker: str, *, checkpoint: dict[str, Any], counts: Counts, batch: int, progress: int
    ) -> dict[str, Any] | None:
        """Records progress atomically with the counts it produced; answers the job's
        `cancel_requested`, or None when the job is no longer ours."""
        return await self._col.find_one_and_update(
            {"_id": job_id, "worker": worker, "status": RUNNING},
            {"$set": {"checkpoint": checkpoint, "counts": counts.as_dict(), "batch": batch, "progress": progress}},
            projection={"cancel_requested": 1},
            return_document=ReturnDocument.AFTER,
        )

    async def cancel_requested(self, tenant_id: str, job_id: str) -> bool:
        """Whether a cancel was asked for the job (read between pages of a running job)."""
        doc = await self._col.find_one({"_id": job_id, "tenant_id": tenant_id}, projection={"cancel_requested": 1})
        return bool(doc and doc.get("cancel_requested"))

    async def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        *,
        error: str = "",
        result: dict[str, Any] | None = None,
        counts: Counts | None = None,
    ) -> bool:
        fields: dict[str, Any] = {
            "status": status,
            "error": error,
            "finished_at": wire.now(),
            "worker": None,
            "lease_until": None,
        }
        if status == SUCCEEDED:
            fields["progress"] = 100
        if result is not None:
            fields["result"] = result
        if counts is not None:
            fields["counts"] = counts.as_dict()
        outcome = await self._col.update_one({"_id": job_id, "worker": worker, "status": RUNNING}, {"$set": fields})
        if outcome.matched_count == 1 and self.on_finish is not None:
            job = await self._col.find_one({"_id": job_id})
            if job is not None:
                metrics.job_finished(job)
                await self.on_finish(job)
        return outcome.matched_count == 1

    async def wait(self, job_id: str, worker: str, until: datetime, reason: str) -> bool:
        """Hands the job back to wait until `until` (e.g. a provider's rate limit); its checkpoint stays."""
        outcome = await self._col.update_one(
            {"_id": job_id, "worker": worker, "status": RUNNING},
            {
                "$set": {
                    "status": QUEUED,
                    "worker": None,
                    "lease_until": None,
                    "not_before": until,
                    "waiting_for": reason,
                },
                "$inc": {"attempts": -1, "waits": 1},
            },
        )
        return outcome.matched_count == 1

    async def requeue(self, job_id: str, worker: str, delay: timedelta, *, count_attempt: bool) -> None:
        """Hands the job back (shutdown, or its stream is busy); its checkpoint stays."""
        update: dict[str, Any] = {
            "$set": {"status": QUEUED, "worker": None, "lease_until": None, "not_before": wire.now() + delay}
        }
        if not count_attempt:
            update["$inc"] = {"attempts": -1}
        await self._col.update_one({"_id": job_id, "worker": worker, "status": RUNNING}, update)
