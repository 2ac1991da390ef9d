"""`GET /`: the gateway and each downstream as the gateway can see them.

The connector service's standard health service answers for itself (service
"", SERVING only when its MongoDB answers) and for the vault as it sees it
(service `ucf.vault.v1.VaultService`); the gateway has no route to the vault.
200 only when everything is up, 503 otherwise.
"""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter
from grpc_health.v1 import health_pb2
from starlette.responses import Response
from ucf_common.request_context import outgoing_metadata

from gateway.deps import State
from gateway.envelope import EnvelopeResponse

router = APIRouter(tags=["health"])

VAULT_SERVICE = "ucf.vault.v1.VaultService"
_STATUS = {
    health_pb2.HealthCheckResponse.SERVING: "up",
    health_pb2.HealthCheckResponse.NOT_SERVING: "down",
}
_EXAMPLE = {"ok": True, "data": {"gateway": "up", "connectorService": "up", "vault": "up"}}
_DOWN_EXAMPLE = {"ok": False, "data": {"gateway": "up", "connectorService": "up", "vault": "down"}}
_STATE = {"type": "string", "enum": ["up", "down", "unknown"]}
# The answer is the envelope's success shape either way; `ok` says whether everything is up.
_SCHEMA = {
    "type": "object",
    "required": ["ok", "data"],
    "properties": {
        "ok": {"type": "boolean"},
        "data": {
            "type": "object",
            "required": ["gateway", "connectorService", "vault"],
            "properties": {"gateway": {"type": "string", "enum": ["up"]}, "connectorService": _STATE, "vault": _STATE},
        },
    },
}


def _answer(description: str, example: dict[str, object]) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": _SCHEMA, "example": example}}}


async def _check(state: State, service: str) -> str:
    """up | down | unknown (the service is not published), or the gRPC status name when the call failed."""
    try:
        answer = await state.stubs.health.Check(
            health_pb2.HealthCheckRequest(service=service),
            metadata=outgoing_metadata(),
            timeout=state.health_timeout,
        )
    except grpc.RpcError as err:
        return "unknown" if err.code() == grpc.StatusCode.NOT_FOUND else "unreachable"
    return _STATUS.get(answer.status, "unknown")


@router.get(
    "/",
    responses={
        200: _answer("Everything is up", _EXAMPLE),
        503: _answer("A downstream is down or unknown", _DOWN_EXAMPLE),
    },
)
async def health(state: State) -> Response:
    connector, vault = await asyncio.gather(_check(state, ""), _check(state, VAULT_SERVICE))
    if connector == "unreachable":
        connector, vault = "down", "unknown"
    elif vault == "unreachable":
        vault = "down"
    data = {"gateway": "up", "connectorService": connector, "vault": vault}
    healthy = connector == "up" and vault == "up"
    return EnvelopeResponse({"ok": healthy, "data": data}, status_code=200 if healthy else 503)
