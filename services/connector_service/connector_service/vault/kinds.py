"""Which vault secret kind holds which credential, and the payload shape of each.

Payloads are lowerCamelCase objects:
OAUTH2_TOKENS `{accessToken, refreshToken?, expiresAt?, tokenType, scope?, metadata?}`
(the OAuth package's `TokenSet.to_payload()`), API_KEY `{apiKey, apiSecret?}`,
BASIC `{username, password}`, CREDENTIALS the provider's form fields,
OAUTH_CLIENT_SECRET `{clientSecret}` owned by the connector id.
"""

from __future__ import annotations

from ucf.vault.v1 import vault_pb2

OAUTH2_TOKENS = vault_pb2.SECRET_KIND_OAUTH2_TOKENS
API_KEY = vault_pb2.SECRET_KIND_API_KEY
BASIC = vault_pb2.SECRET_KIND_BASIC
CREDENTIALS = vault_pb2.SECRET_KIND_CREDENTIALS
CLIENT_SECRET = vault_pb2.SECRET_KIND_OAUTH_CLIENT_SECRET

#: Connection credential kind (the auth mode it came from) → vault secret kind.
BY_AUTH_MODE = {"oauth2": OAUTH2_TOKENS, "api_key": API_KEY, "basic": BASIC, "credentials": CREDENTIALS}
