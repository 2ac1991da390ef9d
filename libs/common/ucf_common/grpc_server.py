"""Server-side pieces shared by the gRPC processes.

`RequestContextInterceptor` wraps every handler so that, inside the handler,
the request id from metadata (or a fresh one) is current, and a `UcfError`
raised anywhere becomes its gRPC status with the error-code trailers: the one
error path at the gRPC edge.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.request_context import REQUEST_ID_METADATA_KEY, accept_request_id, request_id_var

log = logging.getLogger("ucf.grpc")


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return None


async def abort_with(context: grpc.aio.ServicerContext, err: UcfError) -> None:
    context.set_trailing_metadata(err.trailing_metadata())
    await context.abort(err.code.grpc_status, err.message)


def _enter(context: grpc.aio.ServicerContext) -> Any:
    rid = accept_request_id(metadata_value(context, REQUEST_ID_METADATA_KEY))
    return request_id_var.set(rid)


def _wrap_unary(behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
        token = _enter(context)
        try:
            return await behavior(request, context)
        except UcfError as err:
            log.info("%s failed: %s %s", method, err.code.wire, err.message)
            await abort_with(context, err)
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError) or type(exc).__name__ == "AbortError":
                raise
            log.exception("%s crashed", method)
            await abort_with(context, UcfError(ErrorCode.INTERNAL, "internal error"))
        finally:
            request_id_var.reset(token)

    return wrapper


def _wrap_stream(behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
        token = _enter(context)
        try:
            async for item in behavior(request, context):
                yield item
        except UcfError as err:
            log.info("%s failed: %s %s", method, err.code.wire, err.message)
            await abort_with(context, err)
        except Exception as exc:
            if type(exc).__name__ == "AbortError":
                raise
            log.exception("%s crashed", method)
            await abort_with(context, UcfError(ErrorCode.INTERNAL, "internal error"))
        finally:
            request_id_var.reset(token)

    return wrapper


class WrappedHandlers:
    """Per-method memo of wrapped handlers, for interceptors whose wrapping depends only on
    the method and the inner handler.

    The inner handler is still asked for on every call (so interceptors further in keep
    their per-call say); when it is the very object wrapped last time (the generic handlers
    of registered services return the same object per method), the wrapper built then is
    reused instead of building three closures and a new RpcMethodHandler per call.
    """

    def __init__(self, wrap: Callable[[grpc.RpcMethodHandler, str], grpc.RpcMethodHandler]):
        self._wrap = wrap
        self._memo: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        memo = self._memo.get(method)
        if memo is not None and memo[0] is handler:
            return memo[1]
        wrapped = self._wrap(handler, method)
        self._memo[method] = (handler, wrapped)  # only methods that have a handler: a finite set
        return wrapped


def _wrap_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _wrap_unary(handler.unary_unary, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _wrap_stream(handler.unary_stream, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    """Request id + domain-error mapping for unary-unary and unary-stream handlers."""

    def __init__(self) -> None:
        self._handlers = WrappedHandlers(_wrap_handler)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return self._handlers.get(handler, handler_call_details.method)


async def until_stop_signal() -> None:
    """Returns once the process gets SIGTERM or SIGINT: the start of a graceful shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
