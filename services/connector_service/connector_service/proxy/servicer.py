"""`ProxyService.Forward`: the gRPC face of `forwarding.Proxy`.

The request arrives whole (its body bounded by the gateway's body limit and gRPC's
message size); the answer streams: first a `head` (status, headers), then `body_chunk`s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from ucf.connector.v1 import proxy_pb2 as pb
from ucf.connector.v1 import proxy_pb2_grpc

from connector_service.proxy.forwarding import Proxy, ProxyHead, ProxyRequest


class ProxyServicer(proxy_pb2_grpc.ProxyServiceServicer):
    def __init__(self, proxy: Proxy, principal: Callable[[], Any]):
        self._proxy = proxy
        self._principal = principal

    async def Forward(
        self, request: pb.ForwardRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ForwardResponse]:
        tenant_id = self._principal().tenant_id
        forwarded = ProxyRequest(
            connection_id=request.connection_id,
            method=request.method,
            path=request.path,
            query=request.query,
            headers=tuple((h.name, h.value) for h in request.headers),
            body=request.body,
        )
        async for part in self._proxy.forward(tenant_id, forwarded):
            if isinstance(part, ProxyHead):
                head = pb.ForwardHead(status=part.status, headers=[pb.Header(name=n, value=v) for n, v in part.headers])
                yield pb.ForwardResponse(head=head)
            else:
                yield pb.ForwardResponse(body_chunk=part)
