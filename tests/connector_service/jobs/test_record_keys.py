"""Item ids are only unique within their container on some providers (a GitHub
issue number): two repositories both have an issue #1. A sync of 2 repos with
10 issues each adds 20 items, and the feed holds 20 distinct (repo, issue)
changes; a full second sync finds all 40 records unchanged and deletes none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.registry import ConnectorRegistry
from google.protobuf.json_format import MessageToDict
from ucf.connector.v1 import connectors_pb2 as cpb
from ucf.connector.v1 import jobs_pb2 as pb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import api_key_provider, auth, providers_file, start_stack
from tests.connector_service.jobs._flow import FINISHED, counts
from tests.fakes.github_server import TOKEN, FakeGitHub


@pytest.fixture
async def two_repos(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[tuple]:
    fake = FakeGitHub(repos=2, issues_per_repo=10, pulls_per_repo=0, comments_per_issue=1)
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
            ) as stack,
        ):
            key = await stack.key()
            done = await stack.connectors.ConnectCallback(
                cpb.ConnectCallbackRequest(connector_id="github", workspace_id="ws1", api_key=TOKEN), metadata=auth(key)
            )
            yield stack, fake, key, done.connection_id


async def _sync(stack, key: str, connection_id: str, streams: list[str], full: bool = False) -> pb.Job:
    created = await stack.jobs.CreateJob(
        pb.CreateJobRequest(
            connector_id="github",
            connection_id=connection_id,
            type="sync",
            params=pb.JobParams(streams=streams, full=full),
        ),
        metadata=auth(key),
    )
    while True:
        job = (await stack.jobs.GetJob(pb.GetJobRequest(job_id=created.job.id), metadata=auth(key))).job
        if job.status in FINISHED:
            return job
        await asyncio.sleep(0.05)


async def _feed(stack, key: str, connection_id: str, stream: str) -> list[pb.Record]:
    changes, cursor = [], ""
    while True:
        page = await stack.jobs.ListRecords(
            pb.ListRecordsRequest(connection_id=connection_id, stream=stream, cursor=cursor, limit=100),
            metadata=auth(key),
        )
        if not page.items:
            return changes
        changes.extend(page.items)
        cursor = page.next


async def test_same_issue_number_in_two_repos_is_two_records(two_repos) -> None:
    stack, fake, key, connection_id = two_repos
    job = await _sync(stack, key, connection_id, ["items", "comments"])
    assert job.status == "succeeded", job.error
    # 20 items and 20 comments (one per issue): nothing counted as "updated" across repos.
    assert counts(job) == {"added": 40, "updated": 0, "deleted": 0, "unchanged": 0}
    feed = await _feed(stack, key, connection_id, "items")
    assert len(feed) == 20
    assert len({(MessageToDict(c.record)["containerId"], c.id) for c in feed}) == 20
    again = await _sync(stack, key, connection_id, ["items", "comments"], full=True)
    assert counts(again) == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 40}
