"""The connector service's own Prometheus metrics (RPC counts and latency are `ucf_common.metrics`').

Served on `CONNECTOR_METRICS_PORT` (`app.server.serve`). Labels are closed sets — job types and
statuses, refresh outcomes, record actions, source words — plus `tenant` where
`ucf_common.metrics.tenant_label` allows it (empty by default). The call sites add one line each.

The queue gauges come from one aggregation over the `jobs` collection every
`QUEUE_POLL_SECONDS` (`QueueGauges`), across tenants: an operator's figure, no tenant data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.metrics import LATENCY_BUCKETS, Periodic, tenant_label

QUEUE_POLL_SECONDS = 10.0
_JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)

TOKEN_REFRESHES = Counter(
    "ucf_token_refreshes", "OAuth2 token refreshes by outcome (succeeded or the failure reason).", ["outcome", "tenant"]
)
CREDENTIAL_READS = Counter(
    "ucf_credential_reads", "Credential reads by where they were served from (cache or vault).", ["source", "tenant"]
)
JOBS = Counter("ucf_jobs_finished", "Finished jobs by type and final status.", ["type", "status", "tenant"])
JOB_SECONDS = Histogram(
    "ucf_job_duration_seconds", "Time from a job's start to its end, by type.", ["type"], buckets=_JOB_BUCKETS
)
RECORDS = Counter("ucf_job_records", "Records written by finished jobs, by action.", ["type", "action"])
QUEUE_DEPTH = Gauge("ucf_jobs_queued", "Jobs waiting in the queue, by type.", ["type"])
QUEUE_AGE = Gauge("ucf_jobs_oldest_queued_age_seconds", "Age of the oldest queued job that is due, by type.", ["type"])
SCHEDULE_LATENESS = Histogram(
    "ucf_schedule_lateness_seconds",
    "How late a schedule's sync was queued after it was due.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
)
WEBHOOK_DELIVERIES = Counter(
    "ucf_webhook_deliveries", "Provider webhook deliveries accepted: processed or duplicate.", ["outcome"]
)
WEBHOOK_FORWARDS = Counter(
    "ucf_webhook_forwards", "Forwards of events to tenant callbacks: delivered, retry or dead.", ["outcome"]
)
EGRESS_REFUSALS = Counter("ucf_egress_refusals", "Outbound connections refused by the egress policy.")
AUDIT_BATCH = Histogram(
    "ucf_audit_batch_records", "Records per audit group commit.", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
)
AUDIT_SECONDS = Histogram(
    "ucf_audit_commit_duration_seconds", "Time of one audit group commit (insert).", buckets=LATENCY_BUCKETS
)


def token_refresh(outcome: str, tenant_id: str) -> None:
    TOKEN_REFRESHES.labels(str(outcome), tenant_label(tenant_id)).inc()


#: Bound children of `CREDENTIAL_READS` by (source, tenant label): the hot token read counts
#: without a label lookup. The same set as the metric's own series (two sources, and tenants
#: only where the operator enabled their label).
_CREDENTIAL_READ_CHILDREN: dict[tuple[str, str], Any] = {}


def credential_read(source: str, tenant_id: str) -> None:
    key = (source, tenant_label(tenant_id))
    child = _CREDENTIAL_READ_CHILDREN.get(key)
    if child is None:
        child = _CREDENTIAL_READ_CHILDREN[key] = CREDENTIAL_READS.labels(*key)
    child.inc()


def job_finished(job: dict[str, Any]) -> None:
    """Count a finished job document (type, status, tenant_id, started_at/finished_at, counts)."""
    job_type = str(job.get("type", ""))
    JOBS.labels(job_type, str(job.get("status", "")), tenant_label(job.get("tenant_id"))).inc()
    started, finished = job.get("started_at"), job.get("finished_at")
    if isinstance(started, dt.datetime) and isinstance(finished, dt.datetime):
        JOB_SECONDS.labels(job_type).observe(max(0.0, (finished - started).total_seconds()))
    for action, n in (job.get("counts") or {}).items():
        if n and action in ("added", "updated", "deleted"):
            RECORDS.labels(job_type, action).inc(n)


def schedule_late(due: dt.datetime | None, now: dt.datetime) -> None:
    if due is not None:
        SCHEDULE_LATENESS.observe(max(0.0, (now - due).total_seconds()))


class QueueGauges(Periodic):
    """`ucf_jobs_queued{type}` and `ucf_jobs_oldest_queued_age_seconds{type}` every few seconds."""

    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], types: tuple[str, ...], interval: float = QUEUE_POLL_SECONDS
    ) -> None:
        super().__init__(self._update, interval)
        self._jobs = db["jobs"]
        self._types = types

    async def _update(self) -> None:
        now = dt.datetime.now(dt.UTC)
        pipeline: list[dict[str, Any]] = [
            {"$match": {"status": "queued"}},
            {"$group": {"_id": "$type", "n": {"$sum": 1}, "oldest": {"$min": "$created_at"}}},
        ]
        found = {doc["_id"]: doc async for doc in await self._jobs.aggregate(pipeline)}
        for job_type in self._types:
            doc = found.get(job_type) or {}
            QUEUE_DEPTH.labels(job_type).set(doc.get("n", 0))
            oldest = doc.get("oldest")
            age = (now - oldest).total_seconds() if isinstance(oldest, dt.datetime) else 0.0
            QUEUE_AGE.labels(job_type).set(max(0.0, age))
