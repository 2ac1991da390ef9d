"""Normalized containers, items and comments read and written through a
connection (ResourceService). Every call may reach the provider.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from starlette.responses import Response
from ucf.connector.v1 import resources_pb2 as pb

from gateway.bodies import CommentBody, ItemBody
from gateway.deps import ConnectionIdQuery, Cursor, Limit, Rpc, timestamp
from gateway.envelope import ok
from gateway.schemas import reply, reply_page

router = APIRouter(prefix="/connectors/{connector_id}", tags=["resources"])

ContainerIdQuery = Annotated[str, Query(alias="containerId")]


@router.get("/containers", responses=reply_page(pb.Container.DESCRIPTOR))
async def list_containers(
    connector_id: str,
    connection_id: ConnectionIdQuery,
    rpc: Rpc,
    cursor: Cursor = "",
    limit: Limit = None,
    parent_id: Annotated[str, Query(alias="parentId")] = "",
) -> Response:
    request = pb.ListContainersRequest(
        connector_id=connector_id, connection_id=connection_id, cursor=cursor, limit=limit or 0, parent_id=parent_id
    )
    return ok(await rpc(rpc.stubs.resources.ListContainers, request, upstream=True))


@router.get("/items", responses=reply_page(pb.Item.DESCRIPTOR))
async def list_items(
    connector_id: str,
    connection_id: ConnectionIdQuery,
    rpc: Rpc,
    container_id: ContainerIdQuery = "",
    cursor: Cursor = "",
    limit: Limit = None,
    updated_since: Annotated[AwareDatetime | None, Query(alias="updatedSince")] = None,
) -> Response:
    """Items of a container; `updatedSince` (RFC 3339 with offset) narrows to recent changes."""
    request = pb.ListItemsRequest(
        connector_id=connector_id,
        connection_id=connection_id,
        container_id=container_id,
        cursor=cursor,
        limit=limit or 0,
        updated_since=timestamp(updated_since),
    )
    return ok(await rpc(rpc.stubs.resources.ListItems, request, upstream=True))


@router.get("/items/{item_id}", responses=reply(pb.Item.DESCRIPTOR))
async def get_item(
    connector_id: str, item_id: str, connection_id: ConnectionIdQuery, rpc: Rpc, container_id: ContainerIdQuery = ""
) -> Response:
    request = pb.GetItemRequest(
        connector_id=connector_id, connection_id=connection_id, container_id=container_id, item_id=item_id
    )
    answer = await rpc(rpc.stubs.resources.GetItem, request, upstream=True)
    return ok(answer.item)


@router.get("/comments", responses=reply_page(pb.Comment.DESCRIPTOR))
async def list_comments(
    connector_id: str,
    connection_id: ConnectionIdQuery,
    item_id: Annotated[str, Query(alias="itemId", min_length=1)],
    rpc: Rpc,
    container_id: ContainerIdQuery = "",
    cursor: Cursor = "",
    limit: Limit = None,
) -> Response:
    request = pb.ListCommentsRequest(
        connector_id=connector_id,
        connection_id=connection_id,
        container_id=container_id,
        item_id=item_id,
        cursor=cursor,
        limit=limit or 0,
    )
    return ok(await rpc(rpc.stubs.resources.ListComments, request, upstream=True))


@router.post("/items", status_code=201, responses=reply(pb.Item.DESCRIPTOR, 201, "Created"))
async def create_item(connector_id: str, body: ItemBody, rpc: Rpc) -> Response:
    request = body.to_proto(pb.CreateItemRequest(), connector_id=connector_id)
    answer = await rpc(rpc.stubs.resources.CreateItem, request, upstream=True)
    return ok(answer.item, status_code=201)


@router.post("/comments", status_code=201, responses=reply(pb.Comment.DESCRIPTOR, 201, "Created"))
async def create_comment(connector_id: str, body: CommentBody, rpc: Rpc) -> Response:
    request = body.to_proto(pb.CreateCommentRequest(), connector_id=connector_id)
    answer = await rpc(rpc.stubs.resources.CreateComment, request, upstream=True)
    return ok(answer.comment, status_code=201)
