"""A provider asks for a wait (429, Retry-After: 5) longer than the inline
retry cap: the job is not failed but goes back to the queue with `notBefore`
and `waitingFor`, then resumes from its checkpoint and succeeds with exact
counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.registry import ConnectorRegistry
from ucf.connector.v1 import connectors_pb2 as cpb
from ucf.connector.v1 import jobs_pb2 as pb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import api_key_provider, auth, providers_file, start_stack
from tests.connector_service.jobs._flow import counts
from tests.fakes.github_server import TOKEN, FakeGitHub


@pytest.fixture
async def github_jobs(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[tuple]:
    fake = FakeGitHub(repos=1, issues_per_repo=12, pulls_per_repo=0)
    with fake.serve():
        providers = providers_file(tmp_path, api_key_provider("github", "GitHub (test)", fake.base_url))
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                providers_file=providers,
                registry=ConnectorRegistry([GitHubConnector]),
                ucf_job_poll_seconds=0.1,
                ucf_sync_page_size=5,
                ucf_rate_limit_inline_wait_seconds=1,
            ) as stack,
        ):
            key = await stack.key()
            done = await stack.connectors.ConnectCallback(
                cpb.ConnectCallbackRequest(connector_id="github", workspace_id="ws1", api_key=TOKEN), metadata=auth(key)
            )
            yield stack, fake, key, done.connection_id


async def test_a_long_retry_after_requeues_the_job_until_then_and_it_resumes_with_exact_counts(github_jobs) -> None:
    stack, fake, key, connection_id = github_jobs
    # The first page of issues; the container is committed and checkpointed before the wait.
    fake.fail(429, {"message": "slow down"}, headers={"Retry-After": "5"}, path_contains="/issues", times=1)
    created = await stack.jobs.CreateJob(
        pb.CreateJobRequest(
            connector_id="github",
            connection_id=connection_id,
            type="sync",
            params=pb.JobParams(streams=["containers", "items"]),
        ),
        metadata=auth(key),
    )
    job_id = created.job.id
    while True:
        job = (await stack.jobs.GetJob(pb.GetJobRequest(job_id=job_id), metadata=auth(key))).job
        if job.waiting_for:
            break
        assert job.status not in ("failed", "succeeded"), job.error
        await asyncio.sleep(0.05)
    assert job.status == "queued" and job.waiting_for == "rate_limited"
    wait = job.not_before.ToDatetime().timestamp() - job.created_at.ToDatetime().timestamp()
    assert 4 <= wait <= 15
    assert job.counts.added == 1  # the container was committed before the limit hit
    while job.status not in ("succeeded", "failed", "canceled"):
        await asyncio.sleep(0.1)
        job = (await stack.jobs.GetJob(pb.GetJobRequest(job_id=job_id), metadata=auth(key))).job
    assert job.status == "succeeded", job.error
    assert not job.waiting_for
    items = sum(len(issues) for issues in fake.issues.values())
    assert counts(job) == {"added": 1 + items, "updated": 0, "deleted": 0, "unchanged": 0}
