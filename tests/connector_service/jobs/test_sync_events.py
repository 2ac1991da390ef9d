"""Lifecycle events of a sync (issue 15): a job's end is announced to the tenant's event
endpoints, signed per Standard Webhooks and carrying the job id and its counts."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from ucf.connector.v1 import events_pb2, events_pb2_grpc

from tests.connector_service.jobs._flow import counts, run_job
from tests.connector_service.jobs.conftest import T0, PgJobs, insert_rows
from tests.fakes._provider import FakeProvider

standardwebhooks = pytest.importorskip("standardwebhooks")


class Endpoint:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.server = FakeProvider(Starlette(routes=[Route("/events", self._event, methods=["POST"])]))

    async def _event(self, request: Request) -> PlainTextResponse:
        with self.lock:
            self.received.append((dict(request.headers), await request.body()))
        return PlainTextResponse("ok")

    def verified(self, secret: str, event_type: str) -> list[dict]:
        hook = standardwebhooks.Webhook(secret)
        with self.lock:
            got = list(self.received)
        return [hook.verify(body, headers) for headers, body in got if json.loads(body)["type"] == event_type]


async def test_a_sync_emits_sync_succeeded_with_its_counts(pg_jobs: PgJobs) -> None:
    endpoint = Endpoint()
    with endpoint.server.serve():
        stub = events_pb2_grpc.EventEndpointServiceStub(pg_jobs.stack.channel)
        created = await stub.CreateEventEndpoint(
            events_pb2.CreateEventEndpointRequest(url=endpoint.server.base_url + "/events", events=["sync.succeeded"]),
            metadata=pg_jobs.auth(),
        )
        assert created.secret.startswith("whsec_") and list(created.events) == ["sync.succeeded"]
        insert_rows(pg_jobs.schema, range(1, 8), T0)
        job = await run_job(pg_jobs)
        assert job.status == "succeeded", job.error

        events: list[dict] = []
        for _ in range(200):
            events = endpoint.verified(created.secret, "sync.succeeded")
            if events:
                break
            await asyncio.sleep(0.05)
        assert len(events) == 1, "no signed sync.succeeded arrived"
        data = events[0]["data"]
        assert data["jobId"] == job.id and data["connectionId"] == pg_jobs.connection_id
        assert data["counts"] == counts(job) == {"added": 7, "updated": 0, "deleted": 0, "unchanged": 0}
        assert data["workspaceId"] == "pg" and data["connectorId"] == "postgres"
        # only the subscribed type was sent
        assert all(json.loads(body)["type"] == "sync.succeeded" for _, body in endpoint.received)
