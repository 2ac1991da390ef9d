"""Token sets: parsing RFC 6749 §5.1 token responses and the vault payload shape.

Expiry is always absolute (`expires_at`, aware UTC). When the provider sends no
`expires_in`, a JWT access token's `exp` claim is used (read, not verified: the client
only needs a hint of when to refresh); failing that, a refreshable token gets the
provider's conservative default lifetime, and a token without a refresh token gets
`expires_at=None` ("no known expiry", as with GitHub OAuth-app tokens).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint issued. Token values are hidden from `repr`.

    `metadata` holds the non-secret response fields the provider config asked to keep.
    `expiry_source` says where `expires_at` came from: `expires_in`, `jwt_exp`, `default`,
    `stored` (read back from the vault) or `none`.
    """

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scope: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    expiry_source: str = "none"

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when the token is expired or will be within `seconds`; never for unknown expiry."""
        if self.expires_at is None:
            return False
        now = now or datetime.now(UTC)
        return self.expires_at - now <= timedelta(seconds=seconds)

    def to_payload(self) -> dict[str, Any]:
        """The lowerCamelCase object stored in the vault (the shape `POST /connections/token` accepts)."""
        payload: dict[str, Any] = {"accessToken": self.access_token, "tokenType": self.token_type}
        if self.refresh_token:
            payload["refreshToken"] = self.refresh_token
        if self.expires_at is not None:
            payload["expiresAt"] = self.expires_at.isoformat()
        if self.scope:
            payload["scope"] = self.scope
        if self.metadata:
            payload["metadata"] = dict(self.metadata)
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TokenSet:
        expires_at = payload.get("expiresAt")
        if isinstance(expires_at, str):
            expires_at = datetime.fromisoformat(expires_at)
        if isinstance(expires_at, datetime) and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return cls(
            access_token=payload["accessToken"],
            token_type=payload.get("tokenType") or "Bearer",
            refresh_token=payload.get("refreshToken") or None,
            expires_at=expires_at,
            scope=payload.get("scope") or None,
            metadata=dict(payload.get("metadata") or {}),
            expiry_source="stored" if expires_at else "none",
        )


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWS compact token, or None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        return datetime.fromtimestamp(exp, UTC)
    except (ValueError, binascii.Error, OverflowError, OSError):
        return None


def _expires_in(value: Any) -> int | None:
    """`expires_in` as seconds; form-encoded providers send it as a string."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_token_response(
    body: Mapping[str, Any],
    *,
    keep_metadata: tuple[str, ...] = (),
    default_lifetime_seconds: int = 1800,
    now: datetime | None = None,
) -> TokenSet:
    """Build a TokenSet from a successful token response; raises ValueError without `access_token`."""
    now = now or datetime.now(UTC)
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ValueError("token response has no access_token")
    refresh_token = body.get("refresh_token") or None
    seconds = _expires_in(body.get("expires_in"))
    if seconds is not None:
        expires_at, source = now + timedelta(seconds=seconds), "expires_in"
    elif (exp := jwt_expiry(access_token)) is not None:
        expires_at, source = exp, "jwt_exp"
    elif refresh_token:
        expires_at, source = now + timedelta(seconds=default_lifetime_seconds), "default"
    else:
        expires_at, source = None, "none"
    scope = body.get("scope")
    if isinstance(scope, list):
        scope = " ".join(str(s) for s in scope)
    token_type = str(body.get("token_type") or "Bearer")
    if token_type.lower() == "bearer":
        token_type = "Bearer"  # RFC 6749 §5.1: the type is case-insensitive
    return TokenSet(
        access_token=access_token,
        token_type=token_type,
        refresh_token=str(refresh_token) if refresh_token else None,
        expires_at=expires_at,
        scope=str(scope) if scope else None,
        metadata={k: body[k] for k in keep_metadata if body.get(k) is not None},
        expiry_source=source,
    )
