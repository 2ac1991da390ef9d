"""Issue 14's many-replica check: three connector-service processes on one database,
30 PostgreSQL connections on 2-second schedules for 60 s.

- Every due tick is accounted for exactly once: the scheduled jobs of a connection
  plus its skipped ticks (a sync was still running) plus its missed ones (passed
  over while the scheduler was behind or a dead replica's claim was pending)
  equal the ticks its grid had between the schedule's creation and its pause (±1
  for the partial first/last tick), and `runs` equals the jobs that exist.
- No two syncs of one connection overlap (job started/finished intervals).
- One replica is killed (SIGKILL) in the middle of the one big sync; its job is
  taken over after the lease and the records feed of every connection holds each
  change exactly once: no duplicate and no gap.

The first process (the gateway's) runs the scheduler but no job workers, so the
replica that dies is one of the other two. This is the suite's one long test
(about three minutes on a quiet machine).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pymongo import MongoClient

from tests.connector_service.jobs.conftest import DSN, T0
from tests.support.stack import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CONNECTIONS = 30
EVERY = 2
RUN_SECONDS = 60
BIG_ROWS = 6_000
SMALL_ROWS = 5
ENV = {
    "UCF_SCHEDULE_MIN_INTERVAL_SECONDS": "1",
    "UCF_SCHEDULER_POLL_SECONDS": "0.2",
    "UCF_SCHEDULE_CLAIM_SECONDS": "3",
    "UCF_JOB_LEASE_SECONDS": "3",
    "UCF_JOB_POLL_SECONDS": "0.2",
    "UCF_SYNC_PAGE_SIZE": "50",
    "CONNECTOR_HEALTH_INTERVAL_SECONDS": "5",
}


def _wait(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pg_tables() -> Iterator[str]:
    """One schema, table t0 with BIG_ROWS rows and t1..t29 with SMALL_ROWS each."""
    schema = f"ucf_replicas_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        for n in range(CONNECTIONS):
            columns = "id int PRIMARY KEY, title text NOT NULL, updated_at timestamptz NOT NULL"
            conn.execute(f'CREATE TABLE "{schema}".t{n} ({columns})')
            rows = BIG_ROWS if n == 0 else SMALL_ROWS
            conn.execute(
                f"INSERT INTO \"{schema}\".t{n} SELECT g, 'row ' || g, %s FROM generate_series(1, %s) g", [T0, rows]
            )
    yield schema
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _onboard(client: httpx.Client, schema: str, n: int) -> str:
    answer = client.post(
        "/api/connectors/postgres/connect/callback",
        json={
            "workspaceId": f"replicas-{n}",
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
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["connectionId"]


def _schedule(client: httpx.Client, connection_id: str, container: str, *, paused: bool = False) -> None:
    answer = client.put(
        f"/api/connections/{connection_id}/schedule",
        json={"every": EVERY, "containers": [container], "streams": ["items"], "paused": paused},
    )
    assert answer.status_code in (200, 201), answer.text


def _feed(client: httpx.Client, connection_id: str) -> list[tuple[str, str]]:
    changes, cursor = [], ""
    while True:
        params = {"stream": "items", "limit": 200, **({"cursor": cursor} if cursor else {})}
        answer = client.get(f"/api/connections/{connection_id}/records", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()["data"]
        if not page["items"]:
            return changes
        changes += [(item["id"], item["action"]) for item in page["items"]]
        cursor = page["next"]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_three_replicas_run_every_tick_once_without_overlap_and_survive_a_kill(
    mongo_url: str, tmp_path: Path, pg_tables: str
) -> None:
    schema = pg_tables
    with LocalStack(tmp_path, mongo_url, {**ENV, "UCF_JOB_CONCURRENCY": "0"}) as stack:
        stack.env["UCF_JOB_CONCURRENCY"] = "3"
        stack.start_connector("replica2")
        stack.start_connector("replica3")
        db = MongoClient(stack.env["MONGODB_URL"], tz_aware=True)[stack.env["MONGODB_DB"]]
        with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=30) as client:
            ids = [_onboard(client, schema, n) for n in range(CONNECTIONS)]
            for n, cid in enumerate(ids):
                _schedule(client, cid, f"{schema}.t{n}")
            started = time.monotonic()

            # Kill the replica running the big sync once it has committed a few batches.
            def big_job_mid_sync() -> dict[str, Any] | None:
                return db["jobs"].find_one({"connection_id": ids[0], "status": "running", "batch": {"$gte": 3}})

            victim_job = _wait(big_job_mid_sync, "the big sync to be under way")
            victim_pid = int(victim_job["worker"].split(":")[1])
            victim = next(name for name, proc in stack.processes.items() if proc.pid == victim_pid)
            assert victim in ("replica2", "replica3")
            stack.processes[victim].send_signal(signal.SIGKILL)
            stack.processes[victim].wait()

            # A change after the kill (and after every small table's first sync) must reach every feed
            # exactly once too.
            def first_syncs_done() -> bool:
                done = db["jobs"].distinct("connection_id", {"status": "succeeded", "connection_id": {"$in": ids[1:]}})
                return len(done) == CONNECTIONS - 1

            _wait(first_syncs_done, "every small table's first sync")
            with psycopg.connect(DSN, autocommit=True) as conn:
                for n in range(1, CONNECTIONS):
                    conn.execute(
                        f"UPDATE \"{schema}\".t{n} SET title = 'changed', updated_at = %s WHERE id = 1",
                        [T0 + timedelta(hours=1)],
                    )
            updated_at = datetime.now(UTC)

            # On a loaded machine many ticks are missed (accounted for below): wait until every small
            # table has had a scheduled sync that started after its change, so the feed must hold it.
            def synced_after_the_change() -> bool:
                done = db["jobs"].distinct(
                    "connection_id",
                    {"status": "succeeded", "connection_id": {"$in": ids[1:]}, "started_at": {"$gt": updated_at}},
                )
                return len(done) == CONNECTIONS - 1

            _wait(synced_after_the_change, "a sync of every small table after its change")
            time.sleep(max(0.0, RUN_SECONDS - (time.monotonic() - started)))
            paused_at: dict[str, datetime] = {}
            for n, cid in enumerate(ids):
                _schedule(client, cid, f"{schema}.t{n}", paused=True)
                paused_at[cid] = datetime.now(UTC)
            _wait(
                lambda: db["jobs"].count_documents({"status": {"$in": ["queued", "running"]}}) == 0,
                "the last syncs to finish",
            )

            taken_over = db["jobs"].find_one({"_id": victim_job["_id"]})
            assert taken_over["status"] == "succeeded", taken_over.get("error")
            assert taken_over["attempts"] >= 2 and taken_over["counts"]["added"] == BIG_ROWS

            report = []
            for n, cid in enumerate(ids):
                schedule = db["sync_schedules"].find_one({"connection_id": cid})
                jobs = list(db["jobs"].find({"connection_id": cid, "scheduled": True}).sort("started_at", 1))
                assert all(j["status"] == "succeeded" for j in jobs), [j.get("error") for j in jobs]
                assert schedule["runs"] == len(jobs)
                elapsed = (paused_at[cid] - _utc(schedule["created_at"])).total_seconds()
                due = int(elapsed // EVERY) + 1
                accounted = len(jobs) + schedule["skipped"] + schedule.get("missed", 0)
                report.append((n, due, len(jobs), schedule["skipped"], schedule.get("missed", 0)))
                print("connection, due ticks, jobs, skipped, missed:", report[-1])
                assert abs(accounted - due) <= 1, report[-1]
                for before, after in zip(jobs, jobs[1:], strict=False):
                    assert _utc(after["started_at"]) >= _utc(before["finished_at"]), (n, before["_id"], after["_id"])

                changes = _feed(client, cid)
                assert len(changes) == len(set(changes)), f"connection {n}: a change was delivered twice"
                rows = BIG_ROWS if n == 0 else SMALL_ROWS
                expected = {(str(i), "added") for i in range(1, rows + 1)}
                if n:
                    expected.add(("1", "updated"))
                assert set(changes) == expected, f"connection {n}: the feed has a gap"
