"""Prometheus metrics shared by the three processes (`prometheus-client`, its default registry).

- `RpcMetricsInterceptor` counts and times every RPC of a gRPC server by full method name
  (`/ucf.vault.v1.VaultService/GetSecret`: the registered methods, a closed set) and status code.
- `serve_metrics` exposes the registry on a port of its own (`CONNECTOR_METRICS_PORT`,
  `VAULT_METRICS_PORT`), off the API port; 0 turns it off.
- `Periodic` recomputes gauges that need a database query (queue depth, secrets per key) every
  few seconds in the background, so a scrape never waits for the database.
- `tenant_label` is the only way a tenant id reaches a label: empty unless the operator set
  `UCF_METRICS_TENANT_LABELS=true`. No label holds tenant-chosen text (names, workspace ids,
  URLs) or a secret: labels are method names, status codes, job types and outcome words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Histogram, start_http_server

from ucf_common.grpc_server import WrappedHandlers

log = logging.getLogger("ucf.metrics")

#: Seconds; from a cached token read (sub-millisecond) to a provider round trip.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

RPCS = Counter("ucf_rpc_requests", "RPCs handled, by full method name and gRPC status code.", ["method", "code"])
RPC_SECONDS = Histogram(
    "ucf_rpc_duration_seconds", "Time to answer an RPC, by full method name.", ["method"], buckets=LATENCY_BUCKETS
)

_TENANT_LABELS = os.environ.get("UCF_METRICS_TENANT_LABELS", "").strip().lower() in {"1", "true", "yes", "on"}


def tenant_labels_enabled() -> bool:
    return _TENANT_LABELS


def tenant_label(tenant_id: str | None) -> str:
    """The `tenant` label value: the id when `UCF_METRICS_TENANT_LABELS=true`, else empty
    (Prometheus drops empty labels, so the series is the same as without the label)."""
    return (tenant_id or "") if _TENANT_LABELS else ""


def serve_metrics(host: str, port: int) -> Callable[[], None] | None:
    """Serve `/metrics` on `host:port` from a daemon thread; returns its stop function
    (None when `port` is 0: metrics off)."""
    if not port:
        return None
    server, thread = start_http_server(port, addr=host)
    log.info("metrics on http://%s:%s/metrics", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


class _Measure:
    """Pre-bound children of one method's series: no label lookup per call."""

    __slots__ = ("codes", "method", "seconds")

    def __init__(self, method: str) -> None:
        self.method = method
        self.seconds = RPC_SECONDS.labels(method)
        self.codes: dict[str, Any] = {}

    def done(self, started: float, context: grpc.aio.ServicerContext, failed: bool) -> None:
        self.seconds.observe(time.perf_counter() - started)
        code = _code_name(context, failed)
        child = self.codes.get(code)
        if child is None:
            child = self.codes[code] = RPCS.labels(self.method, code)
        child.inc()


def _code_name(context: grpc.aio.ServicerContext, failed: bool) -> str:
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - older grpcio contexts; the outcome is all we need
        code = None
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return next((status.name for status in grpc.StatusCode if status.value[0] == code), "UNKNOWN")
    return "UNKNOWN" if failed else "OK"


def _measured(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    measure = _Measure(method)
    if handler.unary_unary is not None:
        behavior: Callable[..., Awaitable[Any]] = handler.unary_unary

        async def unary(request: Any, context: Any) -> Any:
            started, failed = time.perf_counter(), True
            try:
                reply = await behavior(request, context)
                failed = False
                return reply
            finally:
                measure.done(started, context, failed)

        return grpc.unary_unary_rpc_method_handler(
            unary, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
    if handler.unary_stream is not None:
        stream_behavior: Callable[..., Any] = handler.unary_stream

        async def stream(request: Any, context: Any) -> Any:
            started, failed = time.perf_counter(), True
            try:
                async for item in stream_behavior(request, context):
                    yield item
                failed = False
            finally:
                measure.done(started, context, failed)

        return grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
    return handler


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """`ucf_rpc_requests_total{method,code}` and `ucf_rpc_duration_seconds{method}`. Put it first
    in the server's interceptors, so it sees the status that the others set (errors included)."""

    def __init__(self) -> None:
        self._handlers = WrappedHandlers(_measured)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:  # an unknown method: no series for caller-chosen names
            return handler
        return self._handlers.get(handler, handler_call_details.method)


class Periodic:
    """Runs `update` every `interval` seconds until stopped (gauges that need a query).
    A failing update is logged at debug level and retried next time: metrics never fail the process."""

    def __init__(self, update: Callable[[], Awaitable[None]], interval: float) -> None:
        self._update = update
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self._update()
            except Exception:
                log.debug("metrics update failed", exc_info=True)
            await asyncio.sleep(self._interval)
