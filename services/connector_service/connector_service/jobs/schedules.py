"""Sync schedules (`sync_schedules`): one per connection, claimed tick by tick.

A schedule keeps `anchor`, the unjittered time of its next tick, and
`next_run_at` = anchor + a small jitter. A replica starts a run by moving
`next_run_at` forward with a compare-and-set on the value it read (`claim`),
so of all the replicas that see the same due tick exactly one wins it. The
next anchor is the first point of the interval grid after now: ticks missed
while every replica was down (or the scheduler fell behind) collapse into
the one run that is starting, and are counted (`missed`).

The same compare-and-set writes `pending_tick` {at, job_id, by, until,
full, previous_full_at}: the tick is claimed but its job not yet settled.
The job's id is derived from (schedule, tick) (`tick_job_id`), so inserting
it twice inserts one job. The claimant settles the tick (`settle_started` /
`settle_skipped`, each matching the pending tick and its claimant, so a tick
is counted once); a pending tick whose `until` passed (its claimant died or
stalled) is taken over by any replica (`take_over`) and settled the same way.
While a tick is pending the next one is not claimed.

Every query carries the tenant except `due`/`claim`/`earliest`, the
scheduler's cross-tenant reads, which return the tenant with the schedule.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf_common.errors import ErrorCode, UcfError, invalid, not_found

from connector_service.connections.model import Connection
from connector_service.platform import wire

COLLECTION = "sync_schedules"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhd]?)\s*$")
#: Jitter is at most this share of the interval, and never more than `_MAX_JITTER_SECONDS`.
_JITTER_SHARE = 0.05
_MAX_JITTER_SECONDS = 30.0
#: A PUT racing claims retries its compare-and-set this often before answering `conflict`.
_PUT_ATTEMPTS = 5


def parse_duration(value: str, field: str) -> int:
    """Seconds in "15m" / "90s" / "2h" / "1d" / "900"; a clear 400 otherwise."""
    match = _DURATION.match(value or "")
    if match is None:
        raise invalid(f"{field} must be a duration like 15m, 90s, 2h, 1d or a number of seconds", field=field)
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def jitter(every_seconds: float) -> timedelta:
    return timedelta(seconds=random.uniform(0, min(_MAX_JITTER_SECONDS, every_seconds * _JITTER_SHARE)))


def next_anchor(anchor: datetime, every_seconds: float, now: datetime) -> datetime:
    """The first tick of the grid `anchor + k * every` strictly after `now` (k >= 1)."""
    behind = (now - anchor).total_seconds()
    steps = max(1, math.floor(behind / every_seconds) + 1)
    return anchor + timedelta(seconds=steps * every_seconds)


def tick_job_id(schedule_id: str, tick: datetime) -> str:
    """The job id of one tick of a schedule: the same for every replica that starts that tick, so a
    second insert is a duplicate key. Time-ordered like `wire.new_id` (the tick's millisecond first)."""
    if tick.tzinfo is None:
        tick = tick.replace(tzinfo=UTC)
    millisecond = int(tick.timestamp() * 1000)
    digest = hashlib.sha256(f"{schedule_id}|{millisecond}".encode()).hexdigest()[:10]
    return f"job_{millisecond:012x}{digest}"


def is_full_run(schedule: dict[str, Any], now: datetime) -> bool:
    """Whether the run starting now is a full sync: `fullEvery` has passed since the last full one
    (the first run of a schedule with `fullEvery` is full)."""
    full_every = schedule.get("full_every_seconds") or 0
    if not full_every:
        return False
    last = schedule.get("last_full_at")
    return last is None or (now - last).total_seconds() >= full_every - schedule["every_seconds"] / 2


class ScheduleStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db[COLLECTION]

    async def create_indexes(self) -> None:
        await self._col.create_index([("tenant_id", 1), ("connection_id", 1)], unique=True)
        await self._col.create_index([("paused", 1), ("next_run_at", 1)])
        await self._col.create_index([("pending_tick.until", 1)], sparse=True)

    async def put(
        self,
        tenant_id: str,
        connection: Connection,
        *,
        every_seconds: int,
        streams: list[str],
        containers: list[str],
        full_every_seconds: int,
        paused: bool,
    ) -> tuple[dict[str, Any], bool]:
        """Creates or replaces the schedule; answers it and whether it was created.

        A new schedule, or one whose interval changed, runs at once; an unchanged interval keeps
        its grid (resuming runs at the grid's next tick, not at once)."""
        query = {"tenant_id": tenant_id, "connection_id": connection.id}
        for _ in range(_PUT_ATTEMPTS):
            moment = wire.now()
            current = await self._col.find_one(query)
            missed = 0
            if current is not None and current["every_seconds"] == every_seconds:
                anchor = current["anchor"]
                if anchor <= moment:
                    anchor = next_anchor(anchor, every_seconds, moment)
                    if not current["paused"]:
                        # Ticks that came due while active and were not claimed yet: passed over, counted.
                        missed = round((anchor - current["anchor"]).total_seconds() / every_seconds)
            else:
                anchor = moment
            fields = {
                "connector_id": connection.connector_id,
                "every_seconds": every_seconds,
                "streams": streams,
                "containers": containers,
                "full_every_seconds": full_every_seconds,
                "paused": paused,
                "anchor": anchor,
                "next_run_at": anchor + jitter(every_seconds) if anchor > moment else anchor,
                "updated_at": moment,
            }
            update: dict[str, Any] = {"$set": fields, "$inc": {"missed": missed}}
            if current is not None:
                # A compare-and-set on the tick read, like a claim: a claim in between makes this retry
                # rather than count the ticks it passed over twice.
                doc = await self._col.find_one_and_update(
                    {**query, "anchor": current["anchor"], "next_run_at": current["next_run_at"]},
                    update,
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None:
                    return doc, False
                continue
            update["$setOnInsert"] = {
                "_id": wire.new_id("sch"),
                "created_at": moment,
                "runs": 0,
                "skipped": 0,
                "pending_tick": None,
                "last_job_id": "",
                "last_run_at": None,
                "last_full_at": None,
                "last_skipped_at": None,
            }
            try:
                doc = await self._col.find_one_and_update(
                    query, update, upsert=True, return_document=ReturnDocument.AFTER
                )
            except DuplicateKeyError:
                continue
            if doc is None:  # an upsert answering the document after never answers none
                raise UcfError(ErrorCode.INTERNAL, "the schedule was not written")
            return doc, True
        raise UcfError(ErrorCode.CONFLICT, "the schedule changed while it was being written; try again")

    async def get(self, tenant_id: str, connection_id: str) -> dict[str, Any]:
        doc = await self._col.find_one({"tenant_id": tenant_id, "connection_id": connection_id})
        if doc is None:
            raise not_found("schedule", connection_id)
        return doc

    async def delete(self, tenant_id: str, connection_id: str) -> bool:
        outcome = await self._col.delete_one({"tenant_id": tenant_id, "connection_id": connection_id})
        return outcome.deleted_count == 1

    async def delete_quietly(self, tenant_id: str, connection_id: str) -> None:
        """The connection was deleted or revoked: its schedule goes with it."""
        await self.delete(tenant_id, connection_id)

    # --- the scheduler ----------------------------------------------------------

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Unpaused schedules whose `next_run_at` has come and whose last tick is settled, earliest first
        (any tenant)."""
        query = {"paused": False, "next_run_at": {"$lte": now}, "pending_tick": None}
        cursor = self._col.find(query).sort("next_run_at", 1).limit(limit)
        return await cursor.to_list(limit)

    async def earliest(self) -> datetime | None:
        """When the scheduler next has something to do: the earliest claimable tick or pending deadline."""
        tick = await self._col.find_one(
            {"paused": False, "pending_tick": None}, sort=[("next_run_at", 1)], projection={"next_run_at": 1}
        )
        pending = await self._col.find_one(
            {"pending_tick.until": {"$ne": None}}, sort=[("pending_tick.until", 1)], projection={"pending_tick": 1}
        )
        times = [t for t in (tick and tick["next_run_at"], pending and pending["pending_tick"]["until"]) if t]
        return min(times) if times else None

    async def expired_ticks(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Schedules whose claimed tick was not settled in time (any tenant): its claimant died or stalled."""
        cursor = self._col.find({"pending_tick.until": {"$lte": now}}).sort("pending_tick.until", 1).limit(limit)
        return await cursor.to_list(limit)

    async def claim(
        self, schedule: dict[str, Any], now: datetime, owner: str, deadline: timedelta
    ) -> dict[str, Any] | None:
        """Wins the due tick `schedule` was read with, or None when another replica did (or it was
        paused, changed or deleted meanwhile, or its previous tick is still pending). The winner's
        copy has the run counted and the tick in `pending_tick`, to be settled by `deadline`."""
        every = schedule["every_seconds"]
        anchor = next_anchor(schedule["anchor"], every, now)
        steps = round((anchor - schedule["anchor"]).total_seconds() / every)
        full = is_full_run(schedule, now)
        tick = schedule["anchor"]
        pending = {
            "at": tick,
            "job_id": tick_job_id(schedule["_id"], tick),
            "by": owner,
            "until": now + deadline,
            "full": full,
            "previous_full_at": schedule.get("last_full_at"),
        }
        update: dict[str, Any] = {
            "$set": {
                "anchor": anchor,
                "next_run_at": anchor + jitter(every),
                "last_run_at": now,
                "claimed_by": owner,
                "pending_tick": pending,
            },
            "$inc": {"runs": 1, "missed": max(0, steps - 1)},
        }
        if full:
            update["$set"]["last_full_at"] = now
        return await self._col.find_one_and_update(
            {
                "_id": schedule["_id"],
                "tenant_id": schedule["tenant_id"],
                "next_run_at": schedule["next_run_at"],
                "paused": False,
                "pending_tick": None,
            },
            update,
            return_document=ReturnDocument.AFTER,
        )

    async def take_over(
        self, schedule: dict[str, Any], now: datetime, owner: str, deadline: timedelta
    ) -> dict[str, Any] | None:
        """Makes an expired pending tick ours to settle; None when another replica took it or it was settled."""
        pending = schedule["pending_tick"]
        return await self._col.find_one_and_update(
            {
                "_id": schedule["_id"],
                "tenant_id": schedule["tenant_id"],
                "pending_tick.job_id": pending["job_id"],
                "pending_tick.until": pending["until"],
            },
            {"$set": {"pending_tick.by": owner, "pending_tick.until": now + deadline}},
            return_document=ReturnDocument.AFTER,
        )

    @staticmethod
    def _mine(schedule: dict[str, Any]) -> dict[str, Any]:
        pending = schedule["pending_tick"]
        return {
            "_id": schedule["_id"],
            "tenant_id": schedule["tenant_id"],
            "pending_tick.job_id": pending["job_id"],
            "pending_tick.by": pending["by"],
        }

    async def settle_started(self, schedule: dict[str, Any], job_id: str) -> bool:
        """The pending tick's job exists; False when the tick is no longer ours (taken over, settled)."""
        outcome = await self._col.update_one(
            self._mine(schedule), {"$set": {"last_job_id": job_id, "pending_tick": None}}
        )
        return outcome.modified_count == 1

    async def settle_skipped(self, schedule: dict[str, Any], now: datetime) -> bool:
        """The pending tick did not run (a sync of the connection was queued or running, or the job was
        refused); False when the tick is no longer ours."""
        pending = schedule["pending_tick"]
        update: dict[str, Any] = {
            "$set": {"last_skipped_at": now, "pending_tick": None},
            "$inc": {"skipped": 1, "runs": -1},
        }
        if pending.get("full"):
            update["$set"]["last_full_at"] = pending.get("previous_full_at")
        outcome = await self._col.update_one(self._mine(schedule), update)
        return outcome.modified_count == 1
