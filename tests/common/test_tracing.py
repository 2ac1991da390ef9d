"""Tracing is off unless an exporter is configured, and a log line inside a span carries its trace id."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from ucf_common import logging as ucf_logging
from ucf_common.logging import JsonFormatter
from ucf_common.tracing import current_trace_id, exporter_names


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, [], id="nothing-set"),
        pytest.param({"OTEL_TRACES_EXPORTER": "none"}, [], id="none"),
        pytest.param({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, ["otlp"], id="endpoint-alone"),
        pytest.param({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"], id="two"),
        pytest.param({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, [], id="sdk-disabled"),
    ],
)
def test_exporters_from_the_environment(environ: dict[str, str], expected: list[str]) -> None:
    assert exporter_names(environ) == expected


def test_an_unknown_exporter_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER: unknown exporter zipkin2"):
        exporter_names({"OTEL_TRACES_EXPORTER": "zipkin2"})


def _line() -> dict[str, object]:
    record = logging.LogRecord("ucf.test", logging.INFO, __file__, 1, "hello", (), None)
    return json.loads(JsonFormatter("gateway").format(record))


def test_log_lines_carry_the_trace_id_of_the_current_span() -> None:
    assert _line()["trace_id"] == "-"
    tracer = TracerProvider().get_tracer("test")
    ucf_logging.set_trace_id_source(current_trace_id)
    try:
        with tracer.start_as_current_span("request") as span:
            expected = format(span.get_span_context().trace_id, "032x")
            assert _line()["trace_id"] == expected
        assert _line()["trace_id"] == "-"
    finally:
        ucf_logging.set_trace_id_source(ucf_logging._no_trace_id)
