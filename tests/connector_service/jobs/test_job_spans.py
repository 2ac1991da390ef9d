"""Issue 18: a span per job page. A real sync of a 20-row PostgreSQL table in pages of 7,
traced into an in-memory exporter, shows one job span, one page span per connector
page (7, 7 and 6 rows) parented to it, and the batch that wrote the 20 records; no
span carries the table's name, the tenant or any record content."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from ucf_common import tracing

from tests.connector_service.jobs._flow import counts, run_job
from tests.connector_service.jobs.conftest import T0, PgJobs, insert_rows


@pytest.fixture
def job_settings() -> dict:
    return {"ucf_sync_page_size": 7}


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """The service's tracer (`ucf_common.tracing.tracer()`) writes to an in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


async def test_a_multi_page_sync_has_one_span_per_page_under_the_job_span(
    pg_jobs: PgJobs, spans: InMemorySpanExporter
) -> None:
    insert_rows(pg_jobs.schema, range(1, 21), T0)
    job = await run_job(pg_jobs)
    assert job.status == "succeeded", job.error
    assert counts(job)["added"] == 20

    finished = spans.get_finished_spans()
    [job_span] = [s for s in finished if s.name == "job sync"]
    assert job_span.attributes["ucf.job.id"] == job.id
    assert job_span.attributes["ucf.records.added"] == 20
    pages = sorted((s for s in finished if s.name == "sync page"), key=lambda s: s.start_time)
    assert [s.attributes["ucf.page.rows"] for s in pages] == [7, 7, 6]
    for page in pages:
        assert page.parent is not None and page.parent.span_id == job_span.context.span_id
        assert page.context.trace_id == job_span.context.trace_id
        assert (page.attributes["ucf.job.type"], page.attributes["ucf.sync.stream"]) == ("sync", "items")
    [batch] = [s for s in finished if s.name == "sync batch"]
    assert batch.parent is not None and batch.parent.span_id in {p.context.span_id for p in pages}
    assert (batch.attributes["ucf.batch.rows"], batch.attributes["ucf.records.added"]) == (20, 20)

    tenant = (await pg_jobs.stack.db["connections"].find_one({"_id": pg_jobs.connection_id}))["tenant_id"]
    values = [str(v) for s in finished for v in (s.attributes or {}).values()]
    assert not [v for v in values if pg_jobs.schema in v or tenant in v or "ticket" in v]
