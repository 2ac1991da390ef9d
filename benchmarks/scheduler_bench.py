"""Scheduler benchmark (issue 14): what scheduling costs one replica.

`--schedules` (10,000) sync schedules every `--every` seconds (60), their first ticks
spread evenly over one interval, in an in-memory SecantusDB. One `Scheduler` (the
real loop: due query, compare-and-set claim with `pending_tick`, the tick's job-exists
and busy checks, settle) runs in this process for `--seconds` (60) with a no-op
enqueue (the job is not inserted, so no worker runs and no sync is ever busy): this
is the cost of scheduling alone. Measured:

    ticks/s            ticks claimed and settled per second of wall time
    CPU s/min          this process's CPU time (scheduler + driver) per minute of wall time,
                       and the database process's (from /proc)
    CPU ms/tick        both, per tick
    lateness p50/p99   claim time − the tick's `nextRunAt`, ms

and, from those, how many 15-minute connections one replica sustains: with scheduling taking
at most `--budget` (0.10) of one core in this process (`budget × 900 s ÷ CPU per tick`), and,
when ticks ran more than a second late (the scheduler, usually its database, was saturated),
no more than the measured `ticks/s × 900 s`. Results:
benchmarks/results/scheduler-*.json.

    .venv/bin/python benchmarks/scheduler_bench.py [--schedules 10000] [--every 60] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import timedelta
from typing import Any

import harness
from connector_service.jobs.scheduler import Scheduler
from connector_service.jobs.schedules import ScheduleStore
from connector_service.jobs.store import JobStore
from connector_service.platform import wire
from pymongo import AsyncMongoClient

FIFTEEN_MINUTES = 900


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=int(harness.env_float("BENCH_SCHEDULES", 10_000)))
    parser.add_argument("--every", type=float, default=harness.env_float("BENCH_SCHEDULE_EVERY", 60))
    parser.add_argument("--seconds", type=float, default=harness.env_float("BENCH_SECONDS_SCHEDULER", 60))
    parser.add_argument("--budget", type=float, default=0.10, help="share of one core scheduling may take")
    return parser.parse_args()


class MeasuredStore(ScheduleStore):
    """The real store; records each won claim's lateness (claim time − the tick's next_run_at)."""

    def __init__(self, db: Any):
        super().__init__(db)
        self.lateness_ms: list[float] = []

    async def claim(self, schedule, now, owner, deadline):  # type: ignore[no-untyped-def]
        claimed = await super().claim(schedule, now, owner, deadline)
        if claimed is not None:
            self.lateness_ms.append((wire.now() - schedule["next_run_at"]).total_seconds() * 1000)
        return claimed


class NoAudit:
    async def record(self, *args: Any, **fields: Any) -> None:
        return None


async def _noop_enqueue(tenant, connector, connection, containers, streams, full, job_id) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"_id": job_id, "connector_id": connector, "type": "sync"}


async def _seed(schedules: Any, count: int, every: float) -> None:
    start = wire.now() + timedelta(seconds=1)
    docs = []
    for n in range(count):
        at = start + timedelta(seconds=every * n / count)
        docs.append(
            {
                "_id": f"sch_bench{n:010d}",
                "tenant_id": f"tenant{n % 50}",
                "connection_id": f"con_bench{n:010d}",
                "connector_id": "postgres",
                "every_seconds": every,
                "streams": ["items"],
                "containers": [],
                "full_every_seconds": 0,
                "paused": False,
                "anchor": at,
                "next_run_at": at,
                "runs": 0,
                "skipped": 0,
                "missed": 0,
                "pending_tick": None,
                "last_full_at": None,
            }
        )
    for offset in range(0, count, 1000):
        await schedules.insert_many(docs[offset : offset + 1000])


async def _measure(mongo_url: str, db_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client["scheduler_bench"]
    store, jobs = MeasuredStore(db), JobStore(db)
    await store.create_indexes()
    await jobs.create_indexes()
    await _seed(db["sync_schedules"], args.schedules, args.every)
    scheduler = Scheduler(store, jobs, _noop_enqueue, NoAudit(), poll_seconds=1.0)  # type: ignore[arg-type]
    meter = harness.CpuMeter({"db": db_pid})
    meter.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    scheduler.start()
    await asyncio.sleep(args.seconds)
    await scheduler.stop()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    db_cpu = meter.stop()["db"]
    missed = sum([d.get("missed", 0) async for d in db["sync_schedules"].find({}, {"missed": 1})])
    await client.close()
    ticks = len(store.lateness_ms)
    lateness = sorted(store.lateness_ms) or [0.0]
    cpu_per_tick = cpu / ticks if ticks else float("nan")
    # A 15-minute connection costs cpu_per_tick every 900 s: N connections take N * cpu_per_tick / 900 of a core.
    by_cpu = int(args.budget * FIFTEEN_MINUTES / cpu_per_tick) if ticks else 0
    # When ticks ran late by more than a second the scheduler was saturated (the database, usually): then it
    # settles at most the measured ticks/s, i.e. ticks/s * 900 fifteen-minute connections.
    saturated = bool(ticks) and sorted(store.lateness_ms)[len(store.lateness_ms) // 2] > 1000
    by_throughput = int(ticks / wall * FIFTEEN_MINUTES)
    sustained = min(by_cpu, by_throughput) if saturated else by_cpu
    return {
        "schedules": args.schedules,
        "every_s": args.every,
        "wall_s": round(wall, 2),
        "ticks": ticks,
        "missed_ticks": missed,
        "ticks_per_s": round(ticks / wall, 1),
        "cpu_s_per_min": round(cpu / wall * 60, 2),
        "db_cpu_s_per_min": round(db_cpu / wall * 60, 2),
        "cpu_ms_per_tick": round(cpu_per_tick * 1000, 3),
        "db_cpu_ms_per_tick": round(db_cpu / ticks * 1000, 3) if ticks else None,
        "lateness_p50_ms": round(statistics.median(lateness), 1),
        "lateness_p99_ms": round(lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))], 1),
        "budget_share_of_core": args.budget,
        "saturated": saturated,
        "sustained_by_cpu": by_cpu,
        "sustained_by_throughput": by_throughput,
        "sustained_15min_connections": sustained,
    }


def main() -> None:
    args = _arguments()
    with harness.database() as (mongo_url, db_pid):
        result = asyncio.run(_measure(mongo_url, db_pid, args))
    columns = [
        ("schedules", "schedules"),
        ("ticks_per_s", "ticks/s"),
        ("cpu_s_per_min", "CPU s/min"),
        ("db_cpu_s_per_min", "db CPU s/min"),
        ("cpu_ms_per_tick", "CPU ms/tick"),
        ("db_cpu_ms_per_tick", "db ms/tick"),
        ("lateness_p50_ms", "late p50 ms"),
        ("lateness_p99_ms", "late p99 ms"),
        ("missed_ticks", "missed"),
        ("sustained_15min_connections", "15-min conns"),
    ]
    print(harness.table([result], columns))
    print(
        f"15-minute connections by CPU ({args.budget:.0%} of a core): {args.budget} × {FIFTEEN_MINUTES} s"
        f" ÷ {result['cpu_ms_per_tick']} ms/tick = {result['sustained_by_cpu']}; by throughput:"
        f" {result['ticks_per_s']} ticks/s × {FIFTEEN_MINUTES} s = {result['sustained_by_throughput']};"
        f" sustained ({'saturated: the lower' if result['saturated'] else 'not saturated: by CPU'}):"
        f" {result['sustained_15min_connections']}"
    )
    print(f"results: {harness.write_result('scheduler', {'result': result})}")


if __name__ == "__main__":
    main()
