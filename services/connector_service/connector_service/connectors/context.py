"""What a connector receives for one call: the connection it acts for.

The core service builds a `ConnectorContext` per request (it authenticates the
caller, scopes the connection by tenant and refreshes the credential first), so
connectors never look up or refresh credentials themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from connector_service.connectors.auth import Credential
from connector_service.connectors.retry import RetryPolicy


async def _ignore() -> None:
    return None


async def _nothing(rejected: Credential) -> Credential | None:
    return None


@dataclass(frozen=True)
class ConnectorContext:
    """One connection, ready to call its provider.

    `credential` is the connection's typed credential (`connectors.auth`), one type per
    auth mode: `OAuth2Credential` (token-response facts such as Salesforce `instance_url`
    in `tokens.metadata`), `ApiKeyCredential` (a GitHub PAT), `BasicCredential` (the
    Atlassian `{site, email, api_token}` form) or `FormCredential` (the PostgreSQL form,
    typed by `database()`). Connectors `match` on its type; it is excluded from `repr`.

    `metadata` holds the connection's system metadata: non-secret facts that
    onboarding or refresh found (Atlassian `cloud_id` and `site_url`, Salesforce
    `instance_url`); only these and the credential may decide a host.
    `user_metadata` is the caller's own metadata: options, never a host.
    `base_url` is the catalog's API base for the connector (for Jira/Confluence
    OAuth: the Atlassian API gateway). On a provider 401, `reauthorize` is tried
    first (an OAuth2 refresh, then one retry); `on_unauthorized` is awaited once
    when the provider still rejects the credential, so the core can mark the
    connection invalid.
    """

    connector_id: str
    credential: Credential = field(repr=False)
    http: httpx.AsyncClient = field(repr=False)
    base_url: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    user_metadata: Mapping[str, Any] = field(default_factory=dict)
    extra_details: bool = False
    tenant_id: str = ""
    connection_id: str = ""
    on_unauthorized: Callable[[], Awaitable[None]] = field(default=_ignore, repr=False)
    #: Given the credential a provider rejected (401): refreshes an OAuth2 credential that has
    #: a refresh token (once per rejected token) and answers the fresh credential; None when
    #: there is nothing to refresh. Connectors call `reauthorized()`, not this.
    reauthorize: Callable[[Credential], Awaitable[Credential | None]] = field(default=_nothing, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: The catalog's `rate_limit:` block for the provider, when it has one (see rate_limits.py).
    rate_limit: Any = field(default=None, repr=False)

    async def reauthorized(self) -> Credential | None:
        """After a provider 401: the refreshed credential, which this context then holds so that
        its later requests send the new token at once; None when there is nothing to refresh."""
        fresh = await self.reauthorize(self.credential)
        if fresh is not None:
            # The one field that changes after construction: frozen keeps everything else fixed.
            object.__setattr__(self, "credential", fresh)
        return fresh

    def setting(self, name: str, *fallbacks: str) -> Any:
        """The first non-empty value of `name` (or a fallback name) in the credential's settings
        (OAuth2 token-response facts, form fields), then the system metadata (never the user
        metadata)."""
        for source in (self.credential.settings, self.metadata):
            for key in (name, *fallbacks):
                value = source.get(key)
                if value not in (None, ""):
                    return value
        return None
