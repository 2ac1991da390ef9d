"""OAuth2 for connectors: authorization URLs with PKCE, code exchange, refresh and revocation
against any RFC 6749 provider, and cross-process refresh coordination.

Callers build `ProviderEndpoints` from the provider catalog and `ClientCredentials` from the
tenant's connector settings, pass in an `httpx.AsyncClient`, and plug their credential storage
into `RefreshCoordinator` through the `CredentialStore` protocol.
"""

from connector_service.oauth.authorization import (
    AuthorizationRequest,
    build_authorization_request,
    parse_authorization_response,
    states_match,
)
from connector_service.oauth.client import OAuthClient
from connector_service.oauth.config import (
    ClientCredentials,
    ProviderEndpoints,
    TokenAuthMethod,
)
from connector_service.oauth.errors import (
    OAuthProviderError,
    OAuthUpstreamError,
    RefreshFailed,
    RefreshFailureReason,
)
from connector_service.oauth.pkce import (
    PkcePair,
    new_pkce_pair,
    new_state,
    s256_challenge,
)
from connector_service.oauth.refresh import (
    CredentialStore,
    CredentialVersionConflict,
    RefreshCoordinator,
    StoredCredential,
    TokenRefresher,
)
from connector_service.oauth.tokens import TokenSet, jwt_expiry, parse_token_response

__all__ = [
    "AuthorizationRequest",
    "ClientCredentials",
    "CredentialStore",
    "CredentialVersionConflict",
    "OAuthClient",
    "OAuthProviderError",
    "OAuthUpstreamError",
    "PkcePair",
    "ProviderEndpoints",
    "RefreshCoordinator",
    "RefreshFailed",
    "RefreshFailureReason",
    "StoredCredential",
    "TokenAuthMethod",
    "TokenRefresher",
    "TokenSet",
    "build_authorization_request",
    "jwt_expiry",
    "new_pkce_pair",
    "new_state",
    "parse_authorization_response",
    "parse_token_response",
    "s256_challenge",
    "states_match",
]
