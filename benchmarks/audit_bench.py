"""Audit storage benchmark (issue 7): what one audit record costs the database, by layout.

Every token read appends an audit record, group-committed with the reads arriving
together. This measures the database side of that append on an in-memory SecantusDB,
for batches of 1, 8, 16 and 64 records (what a group commit holds at rising concurrency):

    documents   one document per record (`insert_many`), with a (tenant, connection, _id)
                index: the layout before audit segments
    segments    what `AuditLog` writes: one segment document per tenant and batch
                (`connector_service.connections.audit._segments`), with `AuditLog`'s indexes

each through a client with the driver's retryable writes on (`+retry`) and off (what the
audit log uses), and `segments-noindex`: the same segments without retryable writes into a
collection with no secondary index (what those two indexes cost an append; `ListAuditLogs`
needs them, so this is a measurement, not a layout). Modes alternate per round. Columns: database CPU ms per record (the
SecantusDB process, from /proc), records/s, and each mode's CPU ÷ `documents+retry`
of the same batch size. Results: benchmarks/results/audit-*.json.

    .venv/bin/python benchmarks/audit_bench.py [--records 3000] [--rounds 2] [--batches 1,8,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import harness
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from pymongo import AsyncMongoClient

MODES = ("documents+retry", "documents", "segments+retry", "segments", "segments-noindex")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=int(harness.env_float("BENCH_AUDIT_RECORDS", 3000)))
    parser.add_argument("--rounds", type=int, default=int(harness.env_float("BENCH_ROUNDS", 2)))
    parser.add_argument("--batches", default="1,8,16,64")
    return parser.parse_args()


def _record(n: int) -> dict[str, Any]:
    """A credential.read record as `AuditLog.record` builds it (before ids are minted)."""
    return {
        "tenant_id": "acme",
        "action": audit.CREDENTIAL_USED,
        "outcome": "success",
        "actor": "k7f3a9c2e1d0",
        "request_id": f"{n:032x}",
        "connection_id": f"con_{n % 7:022x}",
        "connector_id": "github",
        "details": {"refreshed": False},
        "created_at": datetime.now(UTC),
    }


async def _append(mode: str, collection: Any, batch: list[dict[str, Any]]) -> None:
    if mode.startswith("segments"):
        await collection.insert_many(audit._segments(batch), ordered=False)
    else:
        await collection.insert_many([{"_id": audit.wire.new_id("aud"), **record} for record in batch], ordered=False)


async def _measure(url: str, db_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    clients = {retry: AsyncMongoClient(url, tz_aware=True, retryWrites=retry) for retry in (True, False)}
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    try:
        for size in [int(b) for b in args.batches.split(",")]:
            results[str(size)] = {mode: [] for mode in MODES}
            for round_no, mode in harness.alternate(MODES, args.rounds):
                db = clients[mode.endswith("+retry")][f"audit_bench_{size}_{round_no}_{mode.replace('+', '_')}"]
                if mode == "segments-noindex":
                    pass
                elif mode.startswith("segments"):
                    await AuditLog(db).create_indexes()
                else:
                    await db[audit.SEGMENTS].create_index([("tenant_id", 1), ("connection_id", 1), ("_id", -1)])
                collection = db[audit.SEGMENTS]
                await _append(mode, collection, [_record(0)])  # collection and indexes exist, pool warm
                count = args.records - args.records % size or size
                meter = harness.CpuMeter({"db": db_pid})
                meter.start()
                started = time.perf_counter()
                for first in range(0, count, size):
                    await _append(mode, collection, [_record(n) for n in range(first, first + size)])
                elapsed = time.perf_counter() - started
                cpu = meter.stop()["db"]
                results[str(size)][mode].append(
                    {
                        "records": count,
                        "seconds": round(elapsed, 4),
                        "db_cpu_ms_per_record": round(cpu * 1000 / count, 4),
                        "records_per_s": round(count / elapsed, 1),
                    }
                )
                await db.client.drop_database(db.name)
    finally:
        for client in clients.values():
            await client.close()
    return results


def main() -> None:
    args = _arguments()
    with harness.database() as (url, db_pid):
        runs = asyncio.run(_measure(url, db_pid, args))
    rows, summary = [], {}
    for size, by_mode in runs.items():
        medians = {
            mode: {key: statistics.median(r[key] for r in rounds) for key in ("db_cpu_ms_per_record", "records_per_s")}
            for mode, rounds in by_mode.items()
        }
        base = medians["documents+retry"]["db_cpu_ms_per_record"]
        for mode, median in medians.items():
            ratio = round(median["db_cpu_ms_per_record"] / base, 3) if base else None
            rows.append(
                {
                    "batch": size,
                    "mode": mode,
                    "cpu": median["db_cpu_ms_per_record"],
                    "rps": median["records_per_s"],
                    "ratio": ratio,
                }
            )
        summary[size] = medians
    print(
        harness.table(
            rows,
            [
                ("batch", "batch"),
                ("mode", "mode"),
                ("cpu", "DB CPU ms/record"),
                ("rps", "records/s"),
                ("ratio", "CPU ÷ documents+retry"),
            ],
        )
    )
    path = harness.write_result(
        "audit",
        {
            "benchmark": "audit",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "records": args.records,
            "rounds": args.rounds,
            "medians": summary,
            "runs": runs,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
