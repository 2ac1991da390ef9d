"""A connector-service process is killed (SIGKILL) in the middle of syncing a
real PostgreSQL table; another connector-service process takes the job over
once its lease expires, resumes from the checkpoint, and the result has every
row exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psycopg
import pytest
from google.protobuf import struct_pb2
from pymongo import MongoClient
from ucf.connector.v1 import connectors_pb2 as cpb
from ucf.connector.v1 import connectors_pb2_grpc, jobs_pb2_grpc
from ucf.connector.v1 import jobs_pb2 as pb

from tests.connector_service.jobs.conftest import DSN, T0, insert_rows
from tests.support.ports import free_port
from tests.support.stack import LocalStack, grpc_health

pytestmark = pytest.mark.integration
ROWS = 20_000
WORKER_ENV = {
    "UCF_JOB_CONCURRENCY": "1",
    "UCF_JOB_LEASE_SECONDS": "3",
    "UCF_JOB_POLL_SECONDS": "0.2",
    "UCF_SYNC_PAGE_SIZE": "50",
}


def _wait(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _start_connector(stack: LocalStack, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (stack.logs / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector_service", "serve"],
        env={**stack.env, "CONNECTOR_PORT": str(port)},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{port}"
    _wait(lambda: proc.poll() is not None or grpc_health(address) == "SERVING", f"{name} to serve")
    assert proc.poll() is None, (stack.logs / f"{name}.log").read_text()[-3000:]
    return proc, address


@pytest.fixture
def pg_schema_big(pg_schema: str) -> str:
    insert_rows(pg_schema, range(1, ROWS + 1), T0)
    return pg_schema


def test_a_killed_worker_s_sync_finishes_elsewhere_without_lost_or_duplicate_records(
    mongo_url: str, tmp_path: Path, pg_schema_big: str
) -> None:
    schema = pg_schema_big
    with LocalStack(tmp_path, mongo_url, extra_env=WORKER_ENV) as stack:
        meta = [("authorization", f"Bearer {stack.api_key}")]
        with grpc.insecure_channel(stack.connector_address) as channel:
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
                    cpb.ConnectCallbackRequest(connector_id="postgres", workspace_id="pg", credentials=credentials),
                    metadata=meta,
                )
                .connection_id
            )
            job = (
                jobs_pb2_grpc.JobServiceStub(channel)
                .CreateJob(
                    pb.CreateJobRequest(
                        connector_id="postgres",
                        connection_id=connection,
                        type="sync",
                        params=pb.JobParams(containers=[f"{schema}.tickets"], streams=["items"]),
                    ),
                    metadata=meta,
                )
                .job
            )

        db = MongoClient(mongo_url, tz_aware=True)[stack.env["MONGODB_DB"]]
        try:

            def job_doc() -> dict:
                return db["jobs"].find_one({"_id": job.id})

            _wait(lambda: job_doc()["counts"]["added"] >= 2_000, "the first worker to commit some batches")
            stack.processes["connector"].send_signal(signal.SIGKILL)
            stack.processes["connector"].wait()
            at_kill = job_doc()
            assert at_kill["status"] == "running" and at_kill["counts"]["added"] < ROWS

            second, address = _start_connector(stack, "connector2")
            try:
                with grpc.insecure_channel(address) as channel:
                    jobs = jobs_pb2_grpc.JobServiceStub(channel)
                    done = _wait(
                        lambda: (
                            (j := jobs.GetJob(pb.GetJobRequest(job_id=job.id), metadata=meta).job).status
                            in ("succeeded", "failed", "canceled")
                            and j
                        ),
                        "the job to finish",
                    )
                    assert done.status == "succeeded", done.error
                    assert (done.counts.added, done.counts.updated, done.counts.deleted) == (ROWS, 0, 0)
                    ids, cursor = [], ""
                    while True:
                        page = jobs.ListRecords(
                            pb.ListRecordsRequest(connection_id=connection, stream="items", cursor=cursor, limit=200),
                            metadata=meta,
                        )
                        if not page.items:
                            break
                        ids.extend(int(r.id) for r in page.items)
                        cursor = page.next
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=30)
            assert len(ids) == ROWS and set(ids) == set(range(1, ROWS + 1))
            assert db["record_state"].count_documents({"connection_id": connection}) == ROWS
            takeover = job_doc()
            assert takeover["attempts"] == 2
        finally:
            db.client.close()
    with psycopg.connect(DSN) as conn:
        assert conn.execute(f'SELECT count(*) FROM "{schema}".tickets').fetchone()[0] == ROWS
    assert os.path.exists(tmp_path / "logs" / "connector2.log")
