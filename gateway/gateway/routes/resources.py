"""Normalized containers, items and comments read and written through a
connection (ResourceService). Every call may reach the provider.

Items arrive from the connector service already as JSON (`items_json`, values keeping their
types); the routes splice those bytes into the envelope rather than parse and write them again.
`GET /items?stream=true` (or `Accept: application/x-ndjson`) answers the whole container as
NDJSON: one item object per line, then one last line `{"ok": true, "next": "", "count": N}`;
if the read fails after the first line, the last line is `{"ok": false, "error": {...},
"next": CURSOR}` where CURSOR resumes after the last item sent (pass it as `cursor`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
import orjson
from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from starlette.responses import Response, StreamingResponse
from ucf.connector.v1 import resources_pb2 as pb
from ucf_common.errors import UcfError

from gateway.bodies import CommentBody, ItemBody
from gateway.deps import ConnectionIdQuery, Cursor, Limit, Rpc, timestamp
from gateway.envelope import ok
from gateway.rpc import Caller, error_from_rpc
from gateway.schemas import reply, reply_page

NDJSON = "application/x-ndjson"


def _json_reply(data: bytes, status_code: int = 200) -> Response:
    return Response(b'{"ok":true,"data":' + data + b"}", status_code=status_code, media_type="application/json")


def _page_reply(answer: pb.ListItemsResponse) -> Response:
    if answer.items and not answer.items_json:  # a connector service from before items_json
        return ok(answer)
    items = b"[" + b",".join(answer.items_json) + b"]"
    return _json_reply(b'{"items":' + items + b',"next":' + orjson.dumps(answer.next) + b"}")


def _error(err: UcfError) -> dict[str, object]:
    return {"code": err.code.wire, "message": err.message, "details": err.details}


async def _stream(rpc: Caller, request: pb.ListItemsRequest) -> Response:
    """The NDJSON answer; an error before the first item is an ordinary error envelope and status.
    The call has no deadline (a whole table takes as long as it takes); the client's disconnect
    cancels it. Starlette writes each chunk only when the socket takes it, so memory is bounded."""
    call = rpc.stubs.resources.StreamItems(request, metadata=rpc.metadata)
    try:
        first = await call.read()
    except grpc.RpcError as err:
        raise error_from_rpc(err) from None

    async def lines() -> AsyncIterator[bytes]:
        message, resume, count = first, request.cursor, 0
        try:
            while message is not grpc.aio.EOF:  # type: ignore[attr-defined]  # grpc-stubs lacks grpc.aio.EOF
                if message.items_json:
                    count += len(message.items_json)
                    yield b"\n".join(message.items_json) + b"\n"
                resume = message.next
                message = await call.read()
            yield orjson.dumps({"ok": True, "next": "", "count": count}) + b"\n"
        except grpc.RpcError as err:
            yield orjson.dumps({"ok": False, "error": _error(error_from_rpc(err)), "next": resume}) + b"\n"
        finally:
            call.cancel()

    return StreamingResponse(lines(), media_type=NDJSON)


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


def _items_responses() -> dict[int | str, dict[str, Any]]:
    responses = reply_page(pb.Item.DESCRIPTOR)
    stream = {"schema": {"type": "string", "description": "One JSON object per line (see the description)."}}
    responses[200]["content"][NDJSON] = stream
    return responses


@router.get("/items", responses=_items_responses())
async def list_items(
    connector_id: str,
    connection_id: ConnectionIdQuery,
    rpc: Rpc,
    http: Request,
    container_id: ContainerIdQuery = "",
    cursor: Cursor = "",
    limit: Limit = None,
    updated_since: Annotated[AwareDatetime | None, Query(alias="updatedSince")] = None,
    stream: Annotated[
        bool, Query(description=f"Answer every item from `cursor` on as NDJSON (same as `Accept: {NDJSON}`).")
    ] = False,
) -> Response:
    """Items of a container; `updatedSince` (RFC 3339 with offset) narrows to recent changes.

    With `stream=true` or `Accept: application/x-ndjson` the answer is the whole container as
    NDJSON (`limit` ignored): one item object per line, then a last line
    `{"ok": true, "next": "", "count": N}`, or `{"ok": false, "error": {...}, "next": CURSOR}`
    when the read failed midway (CURSOR resumes after the last item sent).
    Item `fields` keep their JSON types: integers within ±2^53 are numbers, larger integers and
    numeric/decimal values are strings, timestamps RFC 3339 with `Z`."""
    request = pb.ListItemsRequest(
        connector_id=connector_id,
        connection_id=connection_id,
        container_id=container_id,
        cursor=cursor,
        limit=limit or 0,
        updated_since=timestamp(updated_since),
    )
    if stream or NDJSON in http.headers.get("accept", ""):
        return await _stream(rpc, request)
    return _page_reply(await rpc(rpc.stubs.resources.ListItems, request, upstream=True))


@router.get("/items/{item_id}", responses=reply(pb.Item.DESCRIPTOR))
async def get_item(
    connector_id: str, item_id: str, connection_id: ConnectionIdQuery, rpc: Rpc, container_id: ContainerIdQuery = ""
) -> Response:
    request = pb.GetItemRequest(
        connector_id=connector_id, connection_id=connection_id, container_id=container_id, item_id=item_id
    )
    answer = await rpc(rpc.stubs.resources.GetItem, request, upstream=True)
    return _json_reply(answer.item_json) if answer.item_json else ok(answer.item)


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
    return _json_reply(answer.item_json, status_code=201) if answer.item_json else ok(answer.item, status_code=201)


@router.post("/comments", status_code=201, responses=reply(pb.Comment.DESCRIPTOR, 201, "Created"))
async def create_comment(connector_id: str, body: CommentBody, rpc: Rpc) -> Response:
    request = body.to_proto(pb.CreateCommentRequest(), connector_id=connector_id)
    answer = await rpc(rpc.stubs.resources.CreateComment, request, upstream=True)
    return ok(answer.comment, status_code=201)
