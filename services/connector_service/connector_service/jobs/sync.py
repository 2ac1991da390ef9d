"""The sync engine: reads a connection's streams through its connector into the record store.

Streams run in the order containers → items → comments. Per container, items
are read page by page with `updated_since` = the container's high-water mark
(largest `updatedAt` committed so far) minus the lookback window; the bound
is inclusive and every re-read record is compared by content hash, so rows
that share the cursor value, or were committed late with an older
timestamp inside the window, are never lost and never counted twice.
Without a high-water mark (first sync, `full`, `import`, or a source without
update times) everything is read.

After each committed batch (up to 1000 rows, several connector pages) the run's position goes to the job checkpoint
(atomically with the counts) and to the stream's `sync_states` cursor; a
resumed job continues from that position. A full sync marks every record it
sees and finally deletes, per stream and container scope, the ones it did
not see. `import` reads everything but never deletes.

Tracing: each page a job processes (a connector page read, or one item's
comments) is a `sync page` span under the job's span (runner.py), with the
job type, stream and the page's row count; each committed batch is a
`sync batch` span with what it wrote; no ids, names or record content.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, overload

from opentelemetry.trace import Span
from ucf_common import tracing

from connector_service.connections.sync_states import SyncStateStore
from connector_service.connectors.base import Capability, Connector
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.models import Item, parse_time
from connector_service.connectors.paging import Page
from connector_service.jobs.records import Batch, Counts, Entry, RecordStore
from connector_service.jobs.shapes import (
    COMMENTS,
    CONTAINERS,
    ITEMS,
    STREAMS,
    comment_record,
    container_record,
    item_record,
)

_SWEEP_BATCH = 1000
#: Rows read (over several connector pages) before they are committed as one batch.
_COMMIT_ROWS = 1000
_CAPABILITY = {CONTAINERS: Capability.CONTAINERS, ITEMS: Capability.ITEMS, COMMENTS: Capability.COMMENTS}


class Run(Protocol):
    """What the engine needs from the job it runs (see runner.py)."""

    job: dict[str, Any]

    def batch(self, stream: str, mark_seen: bool) -> Batch: ...

    async def committed(self, position: dict[str, Any], delta: Counts, progress: int) -> None:
        """Checkpoint after a batch; raises when the job must stop here (cancel, lost lease, shutdown)."""

    async def stop_requested(self) -> bool:
        """Whether the job must stop (cancel, lost lease, shutdown); asked between pages."""


@dataclass(frozen=True)
class Mode:
    full: bool
    deletes: bool

    @classmethod
    def of(cls, job: dict[str, Any]) -> Mode:
        full = job["type"] == "import" or bool(job["params"].get("full"))
        return cls(full=full, deletes=job["type"] == "sync" and full)


def required_capabilities(streams: list[str]) -> list[Capability]:
    return [_CAPABILITY[s] for s in streams]


@overload
def _iso(value: dt.datetime) -> str: ...
@overload
def _iso(value: None) -> None: ...
@overload
def _iso(value: dt.datetime | None) -> str | None: ...


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _resume_point(state: dict[str, Any]) -> dict[str, Any]:
    return {k: state.get(k) for k in ("container", "page", "phase") if state.get(k) is not None}


def job_span(name: str, attributes: Mapping[str, Any]) -> contextlib.AbstractContextManager[Span]:
    """A span of a job, a page or a batch, which records no exception and sets no status by
    itself: a stop (cancel, shutdown, lost lease) passes through a page or batch span and ends it
    normally; the job's span says why the job stopped or failed (runner.py)."""
    return tracing.tracer().start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    )


class SyncEngine:
    def __init__(self, records: RecordStore, sync_states: SyncStateStore, *, page_size: int, lookback: dt.timedelta):
        self._records = records
        self._states = sync_states
        self._page = page_size
        self._lookback = lookback

    async def run(self, run: Run, connector: Connector, ctx: ConnectorContext) -> None:
        job = run.job
        streams = [s for s in STREAMS if s in job["params"]["streams"]]
        position = dict(job.get("checkpoint") or {"done": []})
        mode = Mode.of(job)
        for index, stream in enumerate(streams):
            if stream in position["done"]:
                continue
            if position.get("stream") != stream:
                position.update(stream=stream, state=await self._start(job, stream, connector, ctx, mode))
            stream_run = _StreamRun(self, run, connector, ctx, mode, position, index, len(streams))
            await getattr(stream_run, stream)()
            position["done"] = [*position["done"], stream]
            await self._states.set(job["tenant_id"], job["connection_id"], stream, position["state"]["cursor"], None)

    async def _start(
        self, job: dict[str, Any], stream: str, connector: Connector, ctx: ConnectorContext, mode: Mode
    ) -> dict[str, Any]:
        """A stream's initial run state: its container scope and the cursor it starts from."""
        stored = (await self._states.get(job["tenant_id"], job["connection_id"], stream)).get("cursor") or {}
        cursor = {k: v for k, v in stored.items() if k != "run"}
        state: dict[str, Any] = {
            "cursor": cursor,
            "phase": "read",
            "page": None,
            "done": [],
            "startedAt": _iso(dt.datetime.now(dt.UTC)),
        }
        if stream != CONTAINERS:
            state["scope"] = list(job["params"].get("containers") or []) or await self._all_containers(connector, ctx)
        if stream == COMMENTS:
            since = parse_time(cursor.get("itemsSince"))
            state["since"] = None if mode.full or since is None else _iso(since - self._lookback)
        return state

    async def _all_containers(self, connector: Connector, ctx: ConnectorContext) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            page = await connector.list_containers(ctx, cursor=cursor, limit=self._page)
            found.extend(c.id for c in page.items)
            if not page.next:
                return found
            cursor = page.next


class _StreamRun:
    """One stream of one job, resumable from `position["state"]`."""

    def __init__(
        self,
        engine: SyncEngine,
        run: Run,
        connector: Connector,
        ctx: ConnectorContext,
        mode: Mode,
        position: dict[str, Any],
        index: int,
        total: int,
    ):
        self.e, self.run, self.connector, self.ctx, self.mode = engine, run, connector, ctx, mode
        self.position, self.state = position, position["state"]
        self.index, self.total = index, total

    def _progress(self, state: dict[str, Any]) -> int:
        scope = state.get("scope")
        fraction = len(state["done"]) / len(scope) if scope else 0.0
        return min(99, int(100 * (self.index + fraction) / self.total))

    @contextlib.contextmanager
    def _page_span(self) -> Iterator[Span]:
        """The span of one page (the caller sets `ucf.page.rows` once it has the page)."""
        attributes = {"ucf.job.type": self.run.job["type"], "ucf.sync.stream": self.position["stream"]}
        with job_span("sync page", attributes) as span:
            yield span

    async def _commit(self, entries: list[Entry], position: dict[str, Any] | None = None) -> None:
        """Commits a batch and checkpoints `position` (default: the live one; a snapshot when the
        reading has already moved on while this batch is written)."""
        stream = self.position["stream"]
        with job_span("sync batch", {"ucf.sync.stream": stream, "ucf.batch.rows": len(entries)}) as span:
            delta = await self.e._records.commit(self.run.batch(stream, self.mode.deletes), entries)
            span.set_attributes({f"ucf.records.{k}": v for k, v in delta.as_dict().items()})
        await self._checkpoint(delta, position)

    async def _checkpoint(self, delta: Counts, position: dict[str, Any] | None = None) -> None:
        job = self.run.job
        position = position or self.position
        state = position["state"]
        await self.e._states.set(
            job["tenant_id"],
            job["connection_id"],
            position["stream"],
            {**state["cursor"], "run": {"job": job["_id"], **_resume_point(state)}},
            None,
        )
        await self.run.committed(position, delta, self._progress(state))

    async def _sweep(self, containers: list[str] | None) -> None:
        """Phase "sweep" (full syncs only): delete what this run did not see; then phase "done"."""
        if self.state["phase"] == "read":
            self.state["phase"] = "sweep"
        more = self.mode.deletes and self.state["phase"] == "sweep"
        while more:
            delta, more = await self.e._records.delete_unseen(
                self.run.batch(self.position["stream"], True), containers, _SWEEP_BATCH
            )
            self.state["phase"] = "sweep" if more else "done"
            await self._checkpoint(delta)
        self.state["phase"] = "done"

    async def containers(self) -> None:
        while self.state["phase"] == "read":
            with self._page_span() as span:
                page = await self.connector.list_containers(self.ctx, cursor=self.state["page"], limit=self.e._page)
                span.set_attribute("ucf.page.rows", len(page.items))
                self.state["page"] = page.next
                if page.next is None:
                    self.state["phase"] = "sweep"
                await self._commit([Entry(c.id, container_record(c), parent_id=c.parent_id) for c in page.items])
        await self._sweep(None)
        self.state["cursor"] = {"syncedAt": self.state["startedAt"]}

    async def items(self) -> None:
        marks: dict[str, str] = self.state["cursor"].setdefault("highWaterMarks", {})
        for container in self.state["scope"]:
            if container in self.state["done"]:
                continue
            if self.state.get("container") != container:
                mark = parse_time(marks.get(container))
                since = None if self.mode.full or mark is None else mark - self.e._lookback
                self.state.update(container=container, page=None, since=_iso(since), max=marks.get(container))
            await self._read_items(container, marks)
        await self._sweep(self.state["scope"])
        self.state.update(container=None, page=None)

    async def _read_items(self, container: str, marks: dict[str, str]) -> None:
        """The container's items read as one stream (`Connector.stream_items`: one server-side
        cursor for PostgreSQL), committed every `_COMMIT_ROWS` rows (a batch) and at its end.

        One batch is in flight: while batch N is written and checkpointed (with a snapshot of the
        position it reached), the next pages are read and converted; batch N+1 starts only after N's
        checkpoint, so batches still commit one at a time and in order. Each page's `next` is the
        resume position, so a resumed job opens a new stream there."""
        since = parse_time(self.state.get("since"))
        entries: list[Entry] = []
        inflight: asyncio.Task[None] | None = None
        pages = self.connector.stream_items(
            self.ctx, container, updated_since=since, cursor=self.state["page"], batch=self.e._page
        )

        async def next_page() -> Page[Item]:
            try:
                return await anext(pages)
            except StopAsyncIteration:  # a stream may end without a last (empty) page
                return Page([], None)

        upcoming = asyncio.create_task(next_page())
        try:
            while True:
                with self._page_span() as span:
                    page = await upcoming
                    span.set_attribute("ucf.page.rows", len(page.items))
                    if page.next is not None:
                        upcoming = asyncio.create_task(next_page())  # read ahead while this batch is written
                    latest = parse_time(self.state.get("max"))
                    for item in page.items:
                        if item.updated_at and (latest is None or item.updated_at > latest):
                            latest = item.updated_at
                        entries.append(Entry.of(item.id, item_record(item), container, updated_at=item.updated_at))
                    self.state.update(page=page.next, max=_iso(latest))
                    if page.next is None:
                        self.state["done"] = [*self.state["done"], container]
                        if latest is not None:
                            marks[container] = _iso(latest)
                    stop = page.next is not None and len(entries) < _COMMIT_ROWS and await self.run.stop_requested()
                    if page.next is None or len(entries) >= _COMMIT_ROWS or stop:
                        if inflight is not None:
                            task, inflight = inflight, None
                            await task
                        inflight = asyncio.create_task(self._commit(entries, copy.deepcopy(self.position)))
                        entries = []
                    if page.next is None or stop:
                        last, inflight = inflight, None
                        if last is not None:  # the commit just started above
                            await last  # a stop raises here, from the batch's checkpoint (`Run.committed`)
                        return
        except BaseException:
            upcoming.cancel()
            with contextlib.suppress(BaseException):
                await upcoming
            if inflight is not None:
                # Let the batch in flight finish (its checkpoint is valid); the first error wins.
                with contextlib.suppress(BaseException):
                    await inflight
            raise
        finally:
            await pages.aclose()  # releases the connector's cursor and session

    async def comments(self) -> None:
        since = parse_time(self.state.get("since"))
        for container in self.state["scope"]:
            if container in self.state["done"]:
                continue
            if self.state.get("container") != container:
                self.state.update(container=container, page="")
            while True:
                items = await self.e._records.items_changed_since(
                    self.run.job["tenant_id"],
                    self.run.job["connection_id"],
                    container,
                    since,
                    self.state["page"],
                    self.e._page,
                )
                for item in items:
                    with self._page_span() as span:
                        entries = await self._item_comments(container, item["record_id"])
                        span.set_attribute("ucf.page.rows", len(entries))
                        self.state["page"] = item["record_id"]
                        await self._commit(entries)
                if len(items) < self.e._page:
                    break
            self.state["done"] = [*self.state["done"], container]
            await self._checkpoint(Counts())
        await self._sweep(self.state["scope"])
        self.state["cursor"] = {"itemsSince": self.state["startedAt"]}
        self.state.update(container=None, page=None)

    async def _item_comments(self, container: str, item_id: str) -> list[Entry]:
        entries: list[Entry] = []
        cursor = None
        while True:
            page = await self.connector.list_comments(self.ctx, container, item_id, cursor=cursor, limit=self.e._page)
            entries.extend(
                Entry(c.id, comment_record(c, container), container, item_id, c.updated_at) for c in page.items
            )
            if not page.next:
                return entries
            cursor = page.next
