"""The credential provider for resource connectors: builds the
`ConnectorContext` the connectors engineer's `ResourceServicer` asks for.

Per call it loads the tenant's connection (not_found for another tenant's, conflict for
one of another connector), refreshes the credential when due, fills the catalog's
`base_url` template from the connection's system metadata (never the caller's
own metadata: it decides where the credential goes), and hands the connector a
callback for a provider 401: an OAuth2 credential with a refresh token is refreshed
once under the refresh lease (`Credentials.refresh_rejected`) and the request retried
once; only a second 401 (or nothing to refresh) marks the connection `invalid`.
"""

from __future__ import annotations

import httpx

from connector_service.catalog.providers import Catalog
from connector_service.catalog.settings import ConnectorSettingsStore
from connector_service.connections.credentials import Credentials
from connector_service.connectors.auth import Credential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.retry import RetryPolicy
from connector_service.onboarding.verification import fill


class ConnectorContexts:
    def __init__(
        self,
        credentials: Credentials,
        catalog: Catalog,
        settings: ConnectorSettingsStore,
        http: httpx.AsyncClient,
        *,
        retry: RetryPolicy | None = None,
    ):
        self._retry = retry or RetryPolicy()
        self._credentials = credentials
        self._catalog = catalog
        self._settings = settings
        self._http = http

    async def __call__(self, tenant_id: str, connection_id: str, connector_id: str) -> ConnectorContext:
        conn, credential = await self._credentials.provide(tenant_id, connection_id, connector_id)
        metadata = dict(conn.system_metadata)
        spec = self._catalog.get(connector_id)
        try:
            base_url = fill(spec.base_url or "", credential.template_values(metadata)) if spec else ""
        except KeyError:
            base_url = ""
        settings = await self._settings.cached(tenant_id, connector_id)  # extraDetails: <= 30 s old

        async def on_unauthorized() -> None:
            await self._credentials.mark_invalid(tenant_id, connection_id, "the provider rejected the credential")

        async def reauthorize(rejected: Credential) -> Credential | None:
            return await self._credentials.refresh_rejected(tenant_id, connection_id, rejected)

        return ConnectorContext(
            connector_id=connector_id,
            credential=credential,
            http=self._http,
            base_url=base_url,
            metadata=metadata,
            user_metadata=dict(conn.metadata),
            extra_details=settings.extra_details,
            tenant_id=tenant_id,
            connection_id=connection_id,
            on_unauthorized=on_unauthorized,
            reauthorize=reauthorize,
            retry=self._retry,
            rate_limit=getattr(spec, "rate_limit", None),
        )
