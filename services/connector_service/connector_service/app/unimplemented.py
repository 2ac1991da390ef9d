"""Servicers for a process built without resource connectors (`create_server(registry=None)`).

Resources, jobs and webhooks all need connector implementations; without them every RPC of those
families answers `unimplemented` (HTTP 501 at the gateway) naming the reason — an honest "not
here", never a fake success. Registering them keeps the services visible through reflection and
their scopes enforced.
"""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from ucf_common.errors import ErrorCode, UcfError

Servicer = TypeVar("Servicer")


def unimplemented_servicer(base: type[Servicer], reason: str) -> Servicer:
    """An instance of the generated servicer `base` whose every RPC answers unimplemented with `reason`."""

    # Any RPC of `base`: the request and response messages differ per method.
    async def refuse(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        raise UcfError(ErrorCode.UNIMPLEMENTED, reason)

    rpcs = {name: refuse for name, value in vars(base).items() if callable(value) and not name.startswith("_")}
    servicer: Servicer = type(f"Unimplemented{base.__name__}", (base,), rpcs)()
    return servicer
