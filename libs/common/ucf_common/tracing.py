"""OpenTelemetry tracing of every process, configured by the standard `OTEL_*` variables.

Off unless an exporter is configured: `OTEL_TRACES_EXPORTER` (comma-separated: `otlp`,
`console`, `jsonl`, `none`) or, with that unset, an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`
or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). `OTEL_SDK_DISABLED=true` wins over both. When off,
no instrumentation is installed and nothing is added to any call path.

When on, `configure_tracing` sets the SDK's tracer provider (resource from `OTEL_SERVICE_NAME`
and `OTEL_RESOURCE_ATTRIBUTES`, sampler from `OTEL_TRACES_SAMPLER`, batching from
`OTEL_BSP_*`, OTLP over gRPC from `OTEL_EXPORTER_OTLP_*`) and installs the maintained
instrumentations the process names: the gRPC aio server and client (W3C `traceparent` in the
metadata of every hop), httpx (each upstream HTTP call) and pymongo (each database command;
it registers a `pymongo.monitoring.CommandListener`, which PyMongo calls for its async client
too). The gateway adds FastAPI's (`gateway.app`). Log lines then carry the current `trace_id`.

`jsonl` writes each finished span as one JSON line to the file `UCF_TRACES_FILE` (tests and
local debugging read it); `memory` keeps spans in an in-memory exporter (the benchmark).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ucf_common import logging as ucf_logging

log = logging.getLogger("ucf.tracing")

GRPC_SERVER = "grpc_server"
GRPC_CLIENT = "grpc_client"
HTTPX = "httpx"
PYMONGO = "pymongo"

_enabled = False
_tracer = trace.get_tracer("ucf")


def exporter_names(environ: dict[str, str] | None = None) -> list[str]:
    """The span exporters the environment asks for; empty means tracing is off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if not names and (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    names = [name for name in names if name != "none"]
    unknown = set(names) - {"otlp", "console", "jsonl", "memory"}
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {', '.join(sorted(unknown))}")
    return names


def enabled() -> bool:
    return _enabled


def tracer() -> trace.Tracer:
    """The tracer for our own spans (a job page); a no-op one while tracing is off."""
    return _tracer


def configure_tracing(service: str, instrument: Iterable[str] = ()) -> bool:
    """Set up tracing when an exporter is configured; answers whether it is on."""
    global _enabled, _tracer
    names = exporter_names()
    if not names or _enabled:
        return _enabled
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        provider.add_span_processor(_processor(name))
    trace.set_tracer_provider(provider)
    for part in instrument:
        _INSTRUMENTS[part]()
    _tracer = trace.get_tracer("ucf")
    ucf_logging.set_trace_id_source(current_trace_id)
    _enabled = True
    log.info("tracing on: exporters %s, instrumented %s", ",".join(names), ",".join(instrument) or "-")
    return True


def current_trace_id() -> str:
    """The current span's trace id as 32 hex digits, or `-` outside any span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else "-"


def _processor(name: str) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter())
    if name == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter())
    if name == "memory":
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        return BatchSpanProcessor(InMemorySpanExporter())
    path = os.environ.get("UCF_TRACES_FILE", "")
    if not path:
        raise ValueError("OTEL_TRACES_EXPORTER=jsonl needs UCF_TRACES_FILE")
    return SimpleSpanProcessor(JsonLinesSpanExporter(path))


class JsonLinesSpanExporter(SpanExporter):
    """One JSON object per finished span: name, kind, trace and span ids (hex), parent span id,
    service, status and attributes. Appends to `path`, one write per span."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(_span_dict(span), default=str) + "\n" for span in spans)
        with self._lock, open(self._path, "a", encoding="utf-8") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _span_dict(span: ReadableSpan) -> dict[str, object]:
    context, parent = span.context, span.parent
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(context.trace_id, "032x") if context is not None else None,
        "span_id": format(context.span_id, "016x") if context is not None else None,
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "service": span.resource.attributes.get("service.name"),
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


def _grpc_server() -> None:
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer

    GrpcAioInstrumentorServer().instrument()


def _grpc_client() -> None:
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient

    GrpcAioInstrumentorClient().instrument()


def _httpx() -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()


def _pymongo() -> None:
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    PymongoInstrumentor().instrument()


_INSTRUMENTS = {GRPC_SERVER: _grpc_server, GRPC_CLIENT: _grpc_client, HTTPX: _httpx, PYMONGO: _pymongo}
