"""ProbeConnector: real calls that describe what a connector can do.

With a connection, the probe runs on that connection's credential (refreshed
first when due). Without one, connectors whose credential is a plain form
(PostgreSQL) can be probed with the submitted `config` before any connection
exists; that config is used for this one call and never stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from google.protobuf import json_format
from ucf.connector.v1 import connectors_pb2
from ucf_common.errors import ErrorCode, UcfError, invalid

from connector_service.catalog.providers import Catalog
from connector_service.connectors.auth import FormCredential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.registry import ConnectorRegistry

ContextFactory = Callable[[str, str, str], Awaitable[ConnectorContext]]


class Prober:
    def __init__(
        self, registry: ConnectorRegistry, contexts: ContextFactory, catalog: Catalog, http: httpx.AsyncClient
    ):
        self._registry = registry
        self._contexts = contexts
        self._catalog = catalog
        self._http = http

    async def probe(self, tenant_id: str, request: Any) -> connectors_pb2.ProbeConnectorResponse:
        connector_id = request.connector_id
        spec = self._catalog.get(connector_id)
        if spec is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"connector {connector_id!r} not found")
        if connector_id not in self._registry:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION,
                f"{connector_id} has no resource implementation to probe; its credentials can still be validated",
            )
        if request.connection_id:
            ctx = await self._contexts(tenant_id, request.connection_id, connector_id)
        elif request.HasField("config") and "credentials" in spec.auth_modes:
            config = json_format.MessageToDict(request.config)
            ctx = ConnectorContext(
                connector_id=connector_id,
                credential=FormCredential(config),
                http=self._http,
                base_url=spec.base_url or "",
                tenant_id=tenant_id,
            )
        else:
            raise invalid("connectionId is required to probe this connector", field="connectionId")
        result = await self._registry.get(connector_id).probe(ctx)
        instance = dict(result.instance)
        if result.scopes:
            instance.setdefault("scopes", list(result.scopes))
        response = connectors_pb2.ProbeConnectorResponse(
            connector_id=connector_id, capabilities=list(result.capabilities)
        )
        response.instance.update(_json_safe(instance))
        return response


def _json_safe(value: Any) -> Any:
    """Struct holds JSON only: stringify what it cannot (datetimes, decimals)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
