"""Sync benchmark (issue 6): a full sync of a 200k-row PostgreSQL table against a raw baseline.

Generates a table of `--rows` rows in a fresh schema of the local PostgreSQL
(127.0.0.1:5432, database `test`, user `postgres`, trust auth) and starts the real
three processes on an in-memory SecantusDB. Each round, alternating:

    raw    psycopg reads every row (one server-side cursor) and `insert_many`s them,
           1000 at a time, into a fresh collection of the same MongoDB
    sync   a `sync` job of a fresh postgres connection (so a first, full read): the
           connector pages the table, the engine hashes and stores every record,
           appends the change log and checkpoints; timed from CreateJob until the
           job reports succeeded

and reports rows/s and the ratio sync/raw (goal ≥ 0.5). The schema is dropped
afterwards. Results: benchmarks/results/sync-*.json.

`--base-tree DIR` adds a third mode, `base`: the same sync job run by a second
stack (its own database on the same SecantusDB) whose connector service imports
`connector_service` from DIR (e.g. a `git worktree` of the previous commit), so an
engine change is measured A/B in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import harness
import pg_tickets
import psycopg
from google.protobuf import struct_pb2
from psycopg import sql
from pymongo import MongoClient
from pymongo.collection import Collection
from ucf.connector.v1 import (
    connectors_pb2,
    connectors_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
)

DSN = pg_tickets.DSN
MODES = ("raw", "sync")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=int(harness.env_float("BENCH_SYNC_ROWS", 200_000)))
    parser.add_argument("--rounds", type=int, default=int(harness.env_float("BENCH_SYNC_ROUNDS", 1)))
    parser.add_argument(
        "--feed-rows", type=int, default=20_000, help="records read back from the feed after each sync (0: none)"
    )
    parser.add_argument(
        "--base-tree", type=Path, default=None, help="a checkout whose connector_service runs the extra `base` mode"
    )
    return parser.parse_args()


def copy_raw(schema: str, mongo: MongoClient, db: str, round_no: int) -> int:
    target = mongo[db][f"raw_copy_{round_no}"]
    count = 0
    with psycopg.connect(DSN) as conn, conn.cursor(name="bench") as cur:
        cur.itersize = 1000
        cur.execute(
            sql.SQL("SELECT id, title, body, status, created_at, updated_at FROM {} ORDER BY id").format(
                sql.Identifier(schema, "tickets")
            )
        )
        columns = [c.name for c in cur.description]
        while rows := cur.fetchmany(1000):
            target.insert_many([dict(zip(columns, row, strict=True)) for row in rows], ordered=False)
            count += len(rows)
    return count


def _empty(collection: Collection[dict[str, Any]]) -> None:
    """Drops the collection and makes its indexes again (the service made them once, at start)."""
    indexes = [spec for name, spec in collection.index_information().items() if name != "_id_"]
    collection.drop()
    for spec in indexes:
        options = {k: v for k, v in spec.items() if k not in ("key", "v", "ns")}
        collection.create_index(spec["key"], **options)


def full_sync(channel: grpc.Channel, api_key: str, schema: str, round_no: int) -> tuple[int, float, str]:
    """(rows added, seconds from CreateJob to succeeded, the connection id)."""
    meta = [("authorization", f"Bearer {api_key}")]
    credentials = struct_pb2.Struct()
    credentials.update(
        {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "test",
            "user": "postgres",
            "password": "unused",
            "schemas": [schema],
            "cursor_column": "updated_at",
        }
    )
    connection = (
        connectors_pb2_grpc.ConnectorServiceStub(channel)
        .ConnectCallback(
            connectors_pb2.ConnectCallbackRequest(
                connector_id="postgres", workspace_id=f"bench-{round_no}", credentials=credentials
            ),
            metadata=meta,
        )
        .connection_id
    )
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    started = time.perf_counter()
    job = jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            connector_id="postgres",
            connection_id=connection,
            type="sync",
            params=jobs_pb2.JobParams(containers=[f"{schema}.tickets"], streams=["items"]),
        ),
        metadata=meta,
    ).job
    while job.status not in ("succeeded", "failed", "canceled"):
        time.sleep(0.05)
        job = jobs.GetJob(jobs_pb2.GetJobRequest(job_id=job.id), metadata=meta).job
    if job.status != "succeeded":
        raise SystemExit(f"sync job {job.status}: {job.error}")
    return job.counts.added, time.perf_counter() - started, connection


def read_feed(channel: grpc.Channel, api_key: str, connection: str, rows: int) -> float:
    """Seconds to read the first `rows` records of the connection's feed, in pages of 200 (the cap)."""
    meta = [("authorization", f"Bearer {api_key}")]
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    started, cursor, read = time.perf_counter(), "", 0
    while read < rows:
        page = jobs.ListRecords(
            jobs_pb2.ListRecordsRequest(connection_id=connection, stream="items", cursor=cursor, limit=200),
            metadata=meta,
        )
        if not page.items:
            raise SystemExit(f"the feed ended after {read} records, expected {rows}")
        read += len(page.items)
        cursor = page.next
    return time.perf_counter() - started


def _stack_channel(
    stacks: contextlib.ExitStack, folder: Path, mongo_url: str, env: dict[str, str]
) -> tuple[grpc.Channel, str, str, int]:
    folder.mkdir(parents=True)
    running = stacks.enter_context(harness.stack(folder, mongo_url, env))
    return (
        stacks.enter_context(grpc.insecure_channel(running.connector_address)),
        running.api_key,
        running.env["MONGODB_DB"],
        running.processes["connector"].pid,
    )


def main() -> None:
    args = _arguments()
    schema = f"ucf_sync_bench_{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    modes = (*MODES, "base") if args.base_tree else MODES
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    env = {"CONNECTOR_HEALTH_INTERVAL_SECONDS": "5", "UCF_JOB_CONCURRENCY": "1"}
    pg_tickets.create(schema, args.rows, distinct_updates=True)
    try:
        with contextlib.ExitStack() as stacks:
            # Every row of every run is one oplog entry (raw and sync alike): a cap above what the whole
            # benchmark writes keeps SecantusDB's pruning off the runs after the default cap.
            writes = args.rows * args.rounds * len(modes) * 2
            mongo_url, db_pid = stacks.enter_context(harness.database(cache_size="8G", oplog_entries=writes))
            mongo = stacks.enter_context(MongoClient(mongo_url))
            channels = {"sync": _stack_channel(stacks, folder / "sync", mongo_url, env)}
            if args.base_tree:
                base_code = str(args.base_tree.resolve() / "services" / "connector_service")
                channels["base"] = _stack_channel(stacks, folder / "base", mongo_url, {**env, "PYTHONPATH": base_code})
            for round_no, mode in harness.alternate(modes, args.rounds):
                # CPU of the database and of the process that writes into it: the bench itself for
                # raw, the connector service for a sync (PostgreSQL's is not counted for either).
                writer = os.getpid() if mode == "raw" else channels[mode][3]
                meter = harness.CpuMeter({"db": db_pid, "writer": writer})
                meter.start()
                started = time.perf_counter()
                if mode == "raw":
                    count = copy_raw(schema, mongo, "bench_raw", round_no)
                    seconds = time.perf_counter() - started
                    cpu = meter.stop()
                    mongo["bench_raw"].drop_collection(f"raw_copy_{round_no}")
                else:
                    channel, api_key, db, _ = channels[mode]
                    count, seconds, connection = full_sync(channel, api_key, schema, round_no)
                    cpu = meter.stop()
                    if args.feed_rows:
                        feed = read_feed(channel, api_key, connection, min(args.feed_rows, count))
                        feed_rate = round(min(args.feed_rows, count) / feed)
                        print(f"round {round_no} {mode}: feed read {feed_rate} records/s", flush=True)
                    # Keeps the in-memory database small.
                    for written in ("record_state", "record_changes", "record_batches", "records"):
                        _empty(mongo[db][written])
                if count != args.rows:
                    raise SystemExit(f"{mode} copied {count} rows, expected {args.rows}")
                per_row = {f"{name}_cpu_us_per_row": round(1e6 * value / count, 1) for name, value in cpu.items()}
                if mode != "raw" and args.feed_rows:
                    per_row["feed_records_per_s"] = feed_rate
                runs[mode].append(
                    {"rows": count, "seconds": round(seconds, 3), "rows_per_s": round(count / seconds), **per_row}
                )
                print(
                    f"round {round_no} {mode}: {count / seconds:.0f} rows/s, CPU µs/row: database "
                    f"{per_row['db_cpu_us_per_row']}, writer {per_row['writer_cpu_us_per_row']}",
                    flush=True,
                )
    finally:
        pg_tickets.drop(schema)

    summary = {
        m: {"rows_per_s": round(statistics.median(r["rows_per_s"] for r in rs)), "runs": rs} for m, rs in runs.items()
    }
    ratio = round(summary["sync"]["rows_per_s"] / summary["raw"]["rows_per_s"], 3)
    if args.base_tree:
        print(
            f"sync/base {summary['sync']['rows_per_s'] / summary['base']['rows_per_s']:.3f}, "
            f"base/raw {summary['base']['rows_per_s'] / summary['raw']['rows_per_s']:.3f}"
        )
    print(
        harness.table(
            [{"mode": m, "rows_per_s": s["rows_per_s"]} for m, s in summary.items()],
            [("mode", "mode"), ("rows_per_s", "rows/s")],
        )
    )
    print(f"\ngoal: sync/raw {ratio} (≥ 0.5)")
    path = harness.write_result(
        "sync",
        {
            "benchmark": "sync",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rows": args.rows,
            "rounds": args.rounds,
            "ratio_sync_raw": ratio,
            "results": summary,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
