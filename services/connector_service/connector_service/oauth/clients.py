"""Builds the OAuth engineer's protocol objects from the catalog and a tenant's settings.

A tenant registers its own OAuth client per connector (`PATCH /connectors/{id}`);
its secret is read from the vault only when a token call needs it.
"""

from __future__ import annotations

import httpx
from ucf_common.errors import ErrorCode, UcfError

from connector_service.catalog.providers import ProviderSpec
from connector_service.catalog.settings import ConnectorSettingsStore
from connector_service.oauth.client import OAuthClient
from connector_service.oauth.config import (
    ClientCredentials,
    ProviderEndpoints,
    TokenAuthMethod,
)
from connector_service.vault.kinds import CLIENT_SECRET
from connector_service.vault.port import VaultPort


def endpoints(spec: ProviderSpec) -> ProviderEndpoints:
    if not spec.token_url:
        raise UcfError(ErrorCode.FAILED_PRECONDITION, "this connector does not use OAuth2")
    return ProviderEndpoints(
        token_url=spec.token_url,
        authorization_url=spec.authorization_url,
        revocation_url=spec.revocation_url,
        scope_separator=spec.scope_separator,
        pkce=spec.pkce,
        token_auth_method=TokenAuthMethod(spec.token_auth_method),
        authorization_params=dict(spec.authorization_params),
        token_params=dict(spec.token_params),
        token_response_metadata=tuple(spec.token_response_metadata),
        issuer=spec.issuer,
    )


class OAuthClients:
    """OAuth clients for (tenant, connector), with the secret fetched from the vault."""

    def __init__(self, settings: ConnectorSettingsStore, vault: VaultPort, http: httpx.AsyncClient):
        self._settings = settings
        self._vault = vault
        self._http = http

    async def credentials(
        self, tenant_id: str, connector_id: str, spec: ProviderSpec, *, with_secret: bool = True
    ) -> ClientCredentials:
        settings = await self._settings.get(tenant_id, connector_id)
        if not settings.client_id:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION,
                f"connector {connector_id!r} has no OAuth client: set oauth.clientId (and oauth.clientSecret) "
                "first (PATCH /api/connectors/{id}, or UpdateConnector over gRPC)",
                {"connectorId": connector_id},
            )
        secret = None
        if with_secret and spec.token_auth_method != "none":
            if not settings.client_secret_set:
                raise UcfError(
                    ErrorCode.FAILED_PRECONDITION,
                    f"connector {connector_id!r} has no OAuth client secret: set oauth.clientSecret first "
                    "(PATCH /api/connectors/{id}, or UpdateConnector over gRPC)",
                    {"connectorId": connector_id},
                )
            secret = (await self._vault.get(tenant_id, connector_id, CLIENT_SECRET)).payload["clientSecret"]
        return ClientCredentials(client_id=settings.client_id, client_secret=secret)

    async def client_secret(self, tenant_id: str, connector_id: str) -> str | None:
        """The tenant's OAuth client secret for the connector (Jira signs webhook deliveries with it), None if unset."""
        settings = await self._settings.get(tenant_id, connector_id)
        if not (settings.client_id and settings.client_secret_set):
            return None
        secret: str = (await self._vault.get(tenant_id, connector_id, CLIENT_SECRET)).payload["clientSecret"]
        return secret

    async def client(self, tenant_id: str, connector_id: str, spec: ProviderSpec) -> OAuthClient:
        return OAuthClient(self._http, endpoints(spec), await self.credentials(tenant_id, connector_id, spec))
