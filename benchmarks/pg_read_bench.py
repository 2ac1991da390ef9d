"""PostgreSQL read benchmark (issues 5 and 17): a whole table through the framework against raw psycopg.

Generates a table of `--rows` rows in a fresh schema of the local PostgreSQL
(127.0.0.1:5432, database `test`, user `postgres`, trust auth), onboards a
`postgres` connection through the real three processes, then reads every row, in
alternating rounds, up to six ways:

    raw          psycopg, one `SELECT … ORDER BY id`, all rows fetched
    raw_paged    psycopg, keyset pages of `--limit` rows (what ListItems does, minus the framework)
    grpc_stream  ResourceService.StreamItems straight to the connector service (one server-side cursor)
    rest_stream  GET /api/connectors/postgres/items?stream=true through the gateway (NDJSON)
    grpc         ResourceService.ListItems, pages of `--limit`
    rest         GET /api/connectors/postgres/items, pages of `--limit`

Every reader decodes what it receives (rows, or each item's JSON), so all pay the same
client cost. Reports rows/s, CPU ms per 1000 rows (our processes; PostgreSQL and the reading
client excluded), the ratios to raw (goals: grpc_stream ≥ 0.5×, rest_stream ≥ 0.25×) and the
connector's resident-memory growth (peak VmHWM over the RSS before the first read).
Defaults are moderate (`BENCH_PG_ROWS`, 50k); the 1M-row run is
`BENCH_PG_ROWS=1000000 BENCH_ROUNDS=1 .venv/bin/python benchmarks/pg_read_bench.py --modes raw,grpc_stream,rest_stream`.
The schema is dropped afterwards. Results: benchmarks/results/pg_read-*.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import harness
import httpx
import orjson
import pg_tickets
import psycopg
from psycopg import sql
from ucf.connector.v1 import resources_pb2, resources_pb2_grpc

DSN = pg_tickets.DSN
MODES = ("raw", "raw_paged", "grpc_stream", "rest_stream", "grpc", "rest")
PATHS = {
    "raw": (),
    "raw_paged": (),
    "grpc_stream": ("connector", "vault", "db"),
    "rest_stream": ("gateway", "connector", "vault", "db"),
    "grpc": ("connector", "vault", "db"),
    "rest": ("gateway", "connector", "vault", "db"),
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=int(harness.env_float("BENCH_PG_ROWS", 50_000)))
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=int(harness.env_float("BENCH_ROUNDS", 2)))
    parser.add_argument("--modes", default=",".join(MODES))
    return parser.parse_args()


def read_raw(table: sql.Composable) -> int:
    with psycopg.connect(DSN) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, title, body, status, created_at, updated_at FROM {} ORDER BY id").format(table)
        ).fetchall()
    return len(rows)


def read_raw_paged(table: sql.Composable, limit: int) -> int:
    query = sql.SQL(
        "SELECT id, title, body, status, created_at, updated_at FROM {} WHERE id > %s ORDER BY id LIMIT %s"
    ).format(table)
    count, after = 0, 0
    with psycopg.connect(DSN) as conn:
        while True:
            page = conn.execute(query, [after, limit]).fetchall()
            count += len(page)
            if len(page) < limit:
                return count
            after = page[-1][0]


def read_grpc(address: str, api_key: str, connection_id: str, container: str, limit: int) -> int:
    metadata = (("authorization", f"Bearer {api_key}"),)
    count, cursor = 0, ""
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        list_items = resources_pb2_grpc.ResourceServiceStub(channel).ListItems
        while True:
            page = list_items(
                resources_pb2.ListItemsRequest(
                    connector_id="postgres",
                    connection_id=connection_id,
                    container_id=container,
                    cursor=cursor,
                    limit=limit,
                ),
                metadata=metadata,
                timeout=60,
            )
            count += len([orjson.loads(i) for i in page.items_json])
            cursor = page.next
            if not cursor:
                return count


def read_grpc_stream(address: str, api_key: str, connection_id: str, container: str) -> int:
    metadata = (("authorization", f"Bearer {api_key}"),)
    request = resources_pb2.ListItemsRequest(
        connector_id="postgres", connection_id=connection_id, container_id=container
    )
    count = 0
    with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
        for message in resources_pb2_grpc.ResourceServiceStub(channel).StreamItems(request, metadata=metadata):
            count += len([orjson.loads(i) for i in message.items_json])
    return count


def read_rest_stream(base_url: str, headers: dict[str, str], connection_id: str, container: str) -> int:
    count, last = 0, {}
    params = {"connectionId": connection_id, "containerId": container, "stream": "true"}
    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=600) as client,
        client.stream("GET", "/api/connectors/postgres/items", params=params) as answer,
    ):
        answer.raise_for_status()
        for line in answer.iter_lines():
            last = orjson.loads(line)
            count += 1
    if last.get("ok") is not True:
        raise SystemExit(f"the stream ended with {last}")
    return count - 1  # the last line is the end marker


def rss_kib(pid: int, field: str) -> int:
    """A `/proc/<pid>/status` memory figure (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def read_rest(base_url: str, headers: dict[str, str], connection_id: str, container: str, limit: int) -> int:
    count, cursor = 0, ""
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        while True:
            answer = client.get(
                "/api/connectors/postgres/items",
                params={"connectionId": connection_id, "containerId": container, "cursor": cursor, "limit": limit},
            )
            answer.raise_for_status()
            data = orjson.loads(answer.content)["data"]
            count += len(data["items"])
            cursor = data["next"]
            if not cursor:
                return count


def main() -> None:
    args = _arguments()
    modes = [m for m in args.modes.split(",") if m]
    schema = f"ucf_bench_{uuid.uuid4().hex[:8]}"
    table = sql.Identifier(schema, "tickets")
    container = f"{schema}.tickets"
    folder = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    try:
        pg_tickets.create(schema, args.rows)
        with (
            harness.database() as (mongo_url, db_pid),
            harness.stack(folder, mongo_url, {"CONNECTOR_HEALTH_INTERVAL_SECONDS": "5"}) as stack,
        ):
            with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60) as client:
                answer = client.post(
                    "/api/connectors/postgres/connect/callback",
                    json={
                        "workspaceId": "bench",
                        "credentials": {
                            "host": "127.0.0.1",
                            "port": 5432,
                            "database": "test",
                            "user": "postgres",
                            "password": "trust-auth-ignores-it",
                            "schemas": [schema],
                            "cursor_column": "updated_at",
                        },
                    },
                )
                if answer.status_code != 200:
                    raise SystemExit(f"onboarding the postgres connection failed: {answer.text}")
                connection_id = answer.json()["data"]["connectionId"]
            pids = {
                "gateway": stack.processes["gateway"].pid,
                "connector": stack.processes["connector"].pid,
                "vault": stack.processes["vault"].pid,
                "db": db_pid,
            }
            readers: dict[str, Callable[[], int]] = {
                "raw": lambda: read_raw(table),
                "raw_paged": lambda: read_raw_paged(table, args.limit),
                "grpc_stream": lambda: read_grpc_stream(
                    stack.connector_address, stack.api_key, connection_id, container
                ),
                "rest_stream": lambda: read_rest_stream(
                    stack.gateway_url, stack.auth_headers, connection_id, container
                ),
                "grpc": lambda: read_grpc(stack.connector_address, stack.api_key, connection_id, container, args.limit),
                "rest": lambda: read_rest(stack.gateway_url, stack.auth_headers, connection_id, container, args.limit),
            }
            connector_pid = stack.processes["connector"].pid
            rss_before = rss_kib(connector_pid, "VmRSS")
            for mode in modes:  # warm-up: pools, catalog, plans; also checks every path reads every row
                count = readers[mode]()
                if count != args.rows:
                    raise SystemExit(f"{mode} read {count} rows, expected {args.rows}")
            for _, mode in harness.alternate(modes, args.rounds):
                meter = harness.CpuMeter({n: pids[n] for n in PATHS[mode]})
                meter.start()
                started = time.perf_counter()
                count = readers[mode]()
                seconds = time.perf_counter() - started
                cpu = meter.stop()
                runs[mode].append(
                    {"rows": count, "seconds": round(seconds, 4), "rows_per_s": round(count / seconds), "cpu": cpu}
                )
            rss_growth_mb = round((rss_kib(connector_pid, "VmHWM") - rss_before) / 1024, 1)
    finally:
        pg_tickets.drop(schema)

    summary = {}
    for mode, results in runs.items():
        summary[mode] = {
            "rows_per_s": round(statistics.median(r["rows_per_s"] for r in results)),
            "cpu_ms_per_1000_rows": round(
                statistics.median(1000 * 1000 * sum(r["cpu"].values()) / r["rows"] for r in results), 3
            ),
            "runs": results,
        }
    raw = summary.get("raw", {}).get("rows_per_s")
    ratios = {f"{m}/raw": round(summary[m]["rows_per_s"] / raw, 3) for m in summary if raw and m != "raw"}
    rows = [
        {"mode": m, "rows_per_s": s["rows_per_s"], "x_raw": ratios.get(f"{m}/raw"), "cpu": s["cpu_ms_per_1000_rows"]}
        for m, s in summary.items()
    ]
    print(
        harness.table(
            rows, [("mode", "mode"), ("rows_per_s", "rows/s"), ("x_raw", "x raw"), ("cpu", "CPU ms/1000 rows")]
        )
    )
    for mode, goal in (("grpc_stream", "≥ 0.5, must ≥ 0.25"), ("rest_stream", "≥ 0.25, must ≥ 0.15")):
        if f"{mode}/raw" in ratios:
            print(f"goal: {mode}/raw {ratios[f'{mode}/raw']} ({goal})")
    print(f"connector resident memory growth: {rss_growth_mb} MB (goal < 100 MB at 1M rows)")
    path = harness.write_result(
        "pg_read",
        {
            "benchmark": "pg_read",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rows": args.rows,
            "page_limit": args.limit,
            "rounds": args.rounds,
            "ratios": ratios,
            "connector_rss_growth_mb": rss_growth_mb,
            "results": summary,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
