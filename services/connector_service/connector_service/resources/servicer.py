"""gRPC `ResourceService`: normalized containers, items and comments through a connector.

The servicer validates the request, picks the connector and checks the
capability *before* asking `context_factory` for the connection (so an
unsupported call never touches the vault), then converts the connector's
models to messages. Errors are `UcfError`s, mapped to gRPC statuses by the
process's `RequestContextInterceptor`.

`context_factory(tenant_id, connection_id, connector_id)` is the core's: it
loads the tenant's connection, refreshes the credential and returns a
`ConnectorContext` (not_found for a connection of another tenant).
`principal_getter()` answers the authenticated caller (with `.tenant_id`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format
from ucf.connector.v1 import resources_pb2, resources_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.base import Capability, Connector
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.models import (
    Body,
    ItemDraft,
    comment_to_proto,
    container_to_proto,
    item_to_proto,
)
from connector_service.connectors.registry import ConnectorRegistry
from connector_service.resources.encoding import item_json

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Items per StreamItems message (and rows per FETCH), chosen by measurement (benchmarks/README.md):
#: 250 (~100 KiB of typical rows) read faster than 1000 or 2500, whose larger messages stall the
#: reader's flow-control window, and than 100, whose per-message costs show.
STREAM_BATCH = 250

ContextFactory = Callable[[str, str, str], Awaitable[ConnectorContext]]


def page_limit(value: int) -> int:
    """0 (unset) means the default; anything outside 1–200 is refused."""
    if value == 0:
        return DEFAULT_LIMIT
    if not 1 <= value <= MAX_LIMIT:
        raise UcfError(ErrorCode.INVALID_REQUEST, f"limit must be between 1 and {MAX_LIMIT}", {"field": "limit"})
    return value


def _required(**values: str) -> None:
    for name, value in values.items():
        if not value:
            raise UcfError(ErrorCode.INVALID_REQUEST, f"{name} is required", {"field": name})


class ResourceServicer(resources_pb2_grpc.ResourceServiceServicer):
    def __init__(
        self, registry: ConnectorRegistry, context_factory: ContextFactory, principal_getter: Callable[[], Any]
    ):
        self._registry = registry
        self._context_factory = context_factory
        self._principal = principal_getter

    async def _open(self, request: Any, capability: Capability) -> tuple[Connector, ConnectorContext]:
        _required(connectorId=request.connector_id, connectionId=request.connection_id)
        connector = self._registry.get(request.connector_id)
        connector.require(capability)
        principal = self._principal()
        if inspect.isawaitable(principal):
            principal = await principal
        ctx = await self._context_factory(principal.tenant_id, request.connection_id, request.connector_id)
        return connector, ctx

    async def ListContainers(
        self,
        request: resources_pb2.ListContainersRequest,
        context: grpc.aio.ServicerContext[resources_pb2.ListContainersRequest, resources_pb2.ListContainersResponse],
    ) -> resources_pb2.ListContainersResponse:
        limit = page_limit(request.limit)
        connector, ctx = await self._open(request, Capability.CONTAINERS)
        page = await connector.list_containers(
            ctx, cursor=request.cursor or None, limit=limit, parent_id=request.parent_id or None
        )
        return resources_pb2.ListContainersResponse(
            items=[container_to_proto(c) for c in page.items], next=page.next or ""
        )

    async def ListItems(
        self,
        request: resources_pb2.ListItemsRequest,
        context: grpc.aio.ServicerContext[resources_pb2.ListItemsRequest, resources_pb2.ListItemsResponse],
    ) -> resources_pb2.ListItemsResponse:
        limit = page_limit(request.limit)
        _required(containerId=request.container_id)
        since = request.updated_since.ToDatetime(dt.UTC) if request.HasField("updated_since") else None
        connector, ctx = await self._open(request, Capability.ITEMS)
        page = await connector.list_items(
            ctx, request.container_id, updated_since=since, cursor=request.cursor or None, limit=limit
        )
        # Paged ListItems keeps `items` for gRPC clients of the first release beside `items_json`;
        # the bulk path (StreamItems) carries `items_json` only.
        return resources_pb2.ListItemsResponse(
            items=[item_to_proto(i) for i in page.items],
            items_json=[item_json(i) for i in page.items],
            next=page.next or "",
        )

    async def StreamItems(
        self,
        request: resources_pb2.ListItemsRequest,
        context: grpc.aio.ServicerContext[resources_pb2.ListItemsRequest, resources_pb2.ListItemsResponse],
    ) -> AsyncIterator[resources_pb2.ListItemsResponse]:
        """Batches of the whole container; each `yield` waits until gRPC's flow control takes the
        message, so a slow client holds the read (and the server's memory) at one batch."""
        _required(containerId=request.container_id)
        since = request.updated_since.ToDatetime(dt.UTC) if request.HasField("updated_since") else None
        connector, ctx = await self._open(request, Capability.ITEMS)
        pages = connector.stream_items_json(
            ctx,
            request.container_id,
            updated_since=since,
            cursor=request.cursor or None,
            batch=STREAM_BATCH,
            encode=item_json,
        )
        async with contextlib.aclosing(pages):
            async for page in pages:
                yield resources_pb2.ListItemsResponse(items_json=page.items, next=page.next or "")

    async def GetItem(
        self,
        request: resources_pb2.GetItemRequest,
        context: grpc.aio.ServicerContext[resources_pb2.GetItemRequest, resources_pb2.GetItemResponse],
    ) -> resources_pb2.GetItemResponse:
        _required(itemId=request.item_id)
        connector, ctx = await self._open(request, Capability.ITEMS)
        item = await connector.get_item(ctx, request.container_id, request.item_id)
        return resources_pb2.GetItemResponse(item=item_to_proto(item), item_json=item_json(item))

    async def ListComments(
        self,
        request: resources_pb2.ListCommentsRequest,
        context: grpc.aio.ServicerContext[resources_pb2.ListCommentsRequest, resources_pb2.ListCommentsResponse],
    ) -> resources_pb2.ListCommentsResponse:
        limit = page_limit(request.limit)
        _required(itemId=request.item_id)
        connector, ctx = await self._open(request, Capability.COMMENTS)
        page = await connector.list_comments(
            ctx, request.container_id, request.item_id, cursor=request.cursor or None, limit=limit
        )
        return resources_pb2.ListCommentsResponse(items=[comment_to_proto(c) for c in page.items], next=page.next or "")

    async def CreateItem(
        self,
        request: resources_pb2.CreateItemRequest,
        context: grpc.aio.ServicerContext[resources_pb2.CreateItemRequest, resources_pb2.CreateItemResponse],
    ) -> resources_pb2.CreateItemResponse:
        _required(containerId=request.container_id, title=request.title)
        connector, ctx = await self._open(request, Capability.CREATE_ITEM)
        draft = ItemDraft(
            title=request.title,
            body=Body(request.body.text, request.body.format or "plain"),
            fields=json_format.MessageToDict(request.fields) if request.HasField("fields") else {},
        )
        item = await connector.create_item(ctx, request.container_id, draft)
        return resources_pb2.CreateItemResponse(item=item_to_proto(item), item_json=item_json(item))

    async def CreateComment(
        self,
        request: resources_pb2.CreateCommentRequest,
        context: grpc.aio.ServicerContext[resources_pb2.CreateCommentRequest, resources_pb2.CreateCommentResponse],
    ) -> resources_pb2.CreateCommentResponse:
        _required(itemId=request.item_id)
        connector, ctx = await self._open(request, Capability.CREATE_COMMENT)
        comment = await connector.create_comment(
            ctx, request.container_id, request.item_id, Body(request.body.text, request.body.format or "plain")
        )
        return resources_pb2.CreateCommentResponse(comment=comment_to_proto(comment))
