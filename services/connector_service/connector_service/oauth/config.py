"""What the OAuth2 layer needs to know about a provider and the client registered there.

Plain frozen dataclasses, so callers can build them from the provider catalog and the
per-tenant connector settings without this package importing either.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class TokenAuthMethod(enum.StrEnum):
    """How the client authenticates at the token and revocation endpoints (RFC 6749 §2.3,
    names from RFC 7591 `token_endpoint_auth_method`)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"


@dataclass(frozen=True)
class ProviderEndpoints:
    """One provider's OAuth2 endpoints and quirks.

    `scope_separator` joins scopes in the authorization request (a space per RFC 6749 §3.3;
    some providers want a comma). `authorization_params` are added to every authorization
    URL (e.g. Atlassian `audience`, `prompt=consent`), `token_params` to every token request.
    `token_response_metadata` names non-secret token-response fields to keep, such as
    Salesforce `instance_url`. `issuer`, when known, is what an RFC 9207 `iss` must equal.
    `default_token_lifetime_seconds` is assumed when a refreshable token arrives with neither
    `expires_in` nor a JWT `exp`: short on purpose, since refreshing early is harmless and
    serving an expired token is not.
    """

    token_url: str
    authorization_url: str | None = None
    revocation_url: str | None = None
    scope_separator: str = " "
    pkce: bool = True
    token_auth_method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC
    authorization_params: Mapping[str, str] = field(default_factory=dict)
    token_params: Mapping[str, str] = field(default_factory=dict)
    token_response_metadata: tuple[str, ...] = ()
    issuer: str | None = None
    default_token_lifetime_seconds: int = 1800

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_auth_method", TokenAuthMethod(self.token_auth_method))
        object.__setattr__(self, "token_response_metadata", tuple(self.token_response_metadata))


@dataclass(frozen=True)
class ClientCredentials:
    """The client registered at the provider. The secret never appears in `repr`."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
