"""Running one claimed job: leases, heartbeat, checkpoints and the outcome.

A sync or import first takes the lease of every stream it writes (at most
one running sync per connection and stream); when another live job holds
one, the job goes back to the queue untouched. While the job runs, a
heartbeat renews the job and stream leases every third of the lease and
picks up cancel requests; the engine also asks (`stop_requested`) between
pages and after each checkpoint. The engine stops only at batch boundaries
(`committed`; a stop asked between pages commits the rows read so far as a
batch first, so the checkpoint matches what was written): on cancel the job ends `canceled` with the counts so far, on
shutdown it is re-queued to resume from its checkpoint, and when the lease
was lost the worker leaves the job to its new owner without writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from connector_service.connectors.registry import ConnectorRegistry
from connector_service.jobs.leases import LeaseLost, StreamLeases
from connector_service.jobs.records import Batch, Counts
from connector_service.jobs.store import (
    CANCELED,
    FAILED,
    MAX_ATTEMPTS,
    SUCCEEDED,
    JobStore,
)
from connector_service.jobs.sync import SyncEngine, job_span, required_capabilities
from connector_service.platform import wire
from connector_service.resources.contexts import ConnectorContexts

log = logging.getLogger("connector_service.jobs")

RATE_LIMITED = "rate_limited"
#: A job waits out a provider's rate limit at most this many times before it fails.
MAX_RATE_LIMIT_WAITS = 20
#: ... and never for longer than this at a time (a longer ask fails the job with the provider's figure).
MAX_RATE_LIMIT_WAIT = timedelta(hours=6)
#: The wait when the provider said "rate limited" without saying for how long.
DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)


class _Canceled(Exception):
    pass


class _ShuttingDown(Exception):
    pass


class _JobRun:
    """The engine's view of the job (sync.Run): batch stamps and checkpoints."""

    def __init__(self, job: dict[str, Any], worker: str, jobs: JobStore, stopping: asyncio.Event):
        self.job, self.worker, self._jobs, self._stopping = job, worker, jobs, stopping
        self.counts = Counts.from_dict(job.get("counts"))
        self.number = int(job.get("batch") or 0)
        self.cancel_requested = bool(job.get("cancel_requested"))
        self.lost = False

    def batch(self, stream: str, mark_seen: bool) -> Batch:
        return Batch(
            self.job["tenant_id"],
            self.job["connection_id"],
            stream,
            self.job["_id"],
            self.number,
            self.worker,
            mark_seen,
        )

    async def stop_requested(self) -> bool:
        """Whether the job must stop at the next batch boundary: asked between pages, so a cancel
        (or a shutdown) takes effect within one page of work rather than at the next heartbeat."""
        if not (self.cancel_requested or self.lost or self._stopping.is_set()):
            self.cancel_requested = await self._jobs.cancel_requested(self.job["tenant_id"], self.job["_id"])
        return self.cancel_requested or self.lost or self._stopping.is_set()

    async def committed(self, position: dict[str, Any], delta: Counts, progress: int) -> None:
        self.counts.merge(delta)
        self.number += 1
        doc = await self._jobs.checkpoint(
            self.job["_id"], self.worker, checkpoint=position, counts=self.counts, batch=self.number, progress=progress
        )
        if doc is None or self.lost:
            raise LeaseLost(self.job["_id"])
        self.cancel_requested = self.cancel_requested or bool(doc.get("cancel_requested"))
        if self.cancel_requested:
            raise _Canceled
        if self._stopping.is_set():
            raise _ShuttingDown


class JobRunner:
    def __init__(
        self,
        jobs: JobStore,
        leases: StreamLeases,
        engine: SyncEngine,
        registry: ConnectorRegistry,
        contexts: ConnectorContexts,
        *,
        lease: timedelta,
        retry_delay: timedelta,
    ):
        self._jobs, self._leases, self._engine = jobs, leases, engine
        self._registry, self._contexts = registry, contexts
        self._lease, self._retry_delay = lease, retry_delay

    async def run(self, job: dict[str, Any], worker: str, stopping: asyncio.Event) -> None:
        job_id = job["_id"]
        fields = log_fields(job_id=job_id, connection_id=job["connection_id"], job_type=job["type"])
        if job.get("cancel_requested"):
            await self._jobs.finish(job_id, worker, CANCELED)
            return
        if job["attempts"] > MAX_ATTEMPTS:
            await self._jobs.finish(
                job_id, worker, FAILED, error=f"the job was interrupted {MAX_ATTEMPTS} times; giving up"
            )
            return
        if job["type"] != "probe" and not await self._take_streams(job, worker):
            await self._jobs.requeue(job_id, worker, self._retry_delay, count_attempt=False)
            return
        await self._jobs.mark_started(job, worker)
        run = _JobRun(job, worker, self._jobs, stopping)
        heartbeat = asyncio.create_task(self._heartbeat(run))
        try:
            result = await self._traced(run)
            await self._jobs.finish(job_id, worker, SUCCEEDED, result=result, counts=run.counts)
            log.info("job succeeded", extra={**fields, **run.counts.as_dict()})
        except _Canceled:
            await self._jobs.finish(job_id, worker, CANCELED, counts=run.counts)
            log.info("job canceled", extra=fields)
        except _ShuttingDown:
            await self._jobs.requeue(job_id, worker, timedelta(0), count_attempt=False)
            log.info("job handed back for another worker", extra=fields)
        except LeaseLost:
            log.warning("job lease lost; another worker owns it now", extra=fields)
        except UcfError as err:
            if err.code is ErrorCode.RATE_LIMITED and await self._wait_out(job, worker, err, fields):
                return
            await self._jobs.finish(job_id, worker, FAILED, error=f"{err.code.wire}: {err.message}", counts=run.counts)
            log.info("job failed", extra={**fields, "error": err.code.wire})
        except Exception:
            log.exception("job crashed", extra=fields)
            await self._jobs.finish(
                job_id, worker, FAILED, error="internal: the job failed unexpectedly", counts=run.counts
            )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._leases.release(job_id, worker)

    async def _wait_out(self, job: dict[str, Any], worker: str, err: UcfError, fields: dict[str, Any]) -> bool:
        """A provider asked for a wait longer than the inline retry cap: the job goes back to the queue
        with `not_before` at the provider's time and resumes from its last checkpoint. False when the
        job has waited `MAX_RATE_LIMIT_WAITS` times already, or the wait is over `MAX_RATE_LIMIT_WAIT`."""
        if job["type"] == "probe" or int(job.get("waits") or 0) >= MAX_RATE_LIMIT_WAITS:
            return False
        seconds = float(err.details.get("retryAfter") or DEFAULT_RATE_LIMIT_WAIT.total_seconds())
        if seconds > MAX_RATE_LIMIT_WAIT.total_seconds():
            return False
        until = wire.now() + timedelta(seconds=seconds)
        if not await self._jobs.wait(job["_id"], worker, until, RATE_LIMITED):
            return True  # no longer ours: the new owner decides
        log.info("job waits out a rate limit", extra={**fields, "retry_after": seconds})
        return True

    async def _traced(self, run: _JobRun) -> dict[str, Any] | None:
        """`_execute` in the job's span (the parent of its page spans): ids and closed-set names only,
        the counts at the end, and why it stopped or failed (an error code, never a message)."""
        job = run.job
        attributes = {
            "ucf.job.type": job["type"],
            "ucf.job.id": job["_id"],
            "ucf.job.attempt": int(job["attempts"]),
            "ucf.connector.id": job["connector_id"],
            "ucf.job.streams": list(job["params"].get("streams") or []),
        }
        with job_span(f"job {job['type']}", attributes) as span:
            try:
                return await self._execute(run)
            except BaseException as err:
                _span_outcome(span, err)
                raise
            finally:
                span.set_attributes({f"ucf.records.{k}": v for k, v in run.counts.as_dict().items()})

    async def _execute(self, run: _JobRun) -> dict[str, Any] | None:
        job = run.job
        connector = self._registry.get(job["connector_id"])
        if job["type"] != "probe":
            for capability in required_capabilities(job["params"]["streams"]):
                connector.require(capability)
        ctx = await self._contexts(job["tenant_id"], job["connection_id"], job["connector_id"])
        if job["type"] == "probe":
            found = await connector.probe(ctx)
            return {
                "instance": dict(found.instance),
                "capabilities": list(found.capabilities),
                "scopes": list(found.scopes),
            }
        await self._engine.run(run, connector, ctx)
        return None

    async def _take_streams(self, job: dict[str, Any], worker: str) -> bool:
        until = wire.now() + self._lease
        for stream in job["params"]["streams"]:
            if not await self._leases.acquire(
                job["tenant_id"], job["connection_id"], stream, job_id=job["_id"], worker=worker, until=until
            ):
                await self._leases.release(job["_id"], worker)
                return False
        return True

    async def _heartbeat(self, run: _JobRun) -> None:
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            until = wire.now() + self._lease
            try:
                doc = await self._jobs.renew(run.job["_id"], run.worker, until)
                if doc is None:
                    run.lost = True
                    return
                run.cancel_requested = run.cancel_requested or bool(doc.get("cancel_requested"))
                await self._leases.renew(run.job["_id"], run.worker, until)
            except Exception:
                log.warning("job heartbeat failed; retrying", exc_info=True, extra=log_fields(job_id=run.job["_id"]))


_STOPS: dict[type[BaseException], str] = {_Canceled: "canceled", _ShuttingDown: "shutdown", LeaseLost: "lease_lost"}


def _span_outcome(span: Span, err: BaseException) -> None:
    stop = _STOPS.get(type(err))
    if stop is not None:
        span.set_attribute("ucf.job.stopped", stop)
    elif isinstance(err, UcfError):
        span.set_status(Status(StatusCode.ERROR, err.code.wire))
    elif isinstance(err, Exception):
        span.set_status(Status(StatusCode.ERROR, "internal"))
