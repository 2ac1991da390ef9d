"""Token-response parsing: where the expiry comes from, and the vault payload round trip."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from connector_service.oauth import TokenSet, jwt_expiry, parse_token_response

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def jwt(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


JWT_EXP = int((NOW + timedelta(minutes=10)).timestamp())


@pytest.mark.parametrize(
    ("body", "expires_at", "source"),
    [
        pytest.param(
            {"access_token": "a", "expires_in": 3600}, NOW + timedelta(hours=1), "expires_in", id="expires_in"
        ),
        pytest.param(
            {"access_token": "a", "expires_in": "120"},
            NOW + timedelta(minutes=2),
            "expires_in",
            id="form-encoded-string",
        ),
        pytest.param(
            {"access_token": jwt({"exp": JWT_EXP}), "refresh_token": "r"},
            NOW + timedelta(minutes=10),
            "jwt_exp",
            id="jwt-exp",
        ),
        pytest.param(
            {"access_token": "opaque", "refresh_token": "r"},
            NOW + timedelta(seconds=900),
            "default",
            id="refreshable-default",
        ),
        pytest.param({"access_token": "gho_long_lived"}, None, "none", id="no-expiry-no-refresh"),
        pytest.param(
            {"access_token": jwt({"sub": "x"}), "refresh_token": "r"},
            NOW + timedelta(seconds=900),
            "default",
            id="jwt-without-exp",
        ),
    ],
)
def test_expiry_sources(body, expires_at, source):
    tokens = parse_token_response(body, default_lifetime_seconds=900, now=NOW)
    assert (tokens.expires_at, tokens.expiry_source) == (expires_at, source)


def test_missing_access_token_is_refused():
    with pytest.raises(ValueError):
        parse_token_response({"token_type": "bearer"})


def test_not_a_jwt_has_no_expiry():
    assert jwt_expiry("a.b") is None and jwt_expiry("x.!!!.y") is None


def test_fields_are_normalised_and_metadata_filtered():
    tokens = parse_token_response(
        {
            "access_token": "a",
            "token_type": "bearer",
            "scope": ["a", "b"],
            "instance_url": "https://x.example",
            "signature": "s",
        },
        keep_metadata=("instance_url", "id"),
        now=NOW,
    )
    assert tokens.token_type == "Bearer" and tokens.scope == "a b"
    assert tokens.metadata == {"instance_url": "https://x.example"}


def test_payload_round_trip_and_repr_hide_secrets():
    tokens = TokenSet(
        "access-value",
        refresh_token="refresh-value",
        expires_at=NOW,
        scope="a",
        metadata={"instance_url": "https://x.example"},
    )
    back = TokenSet.from_payload(json.loads(json.dumps(tokens.to_payload())))
    assert (back.access_token, back.refresh_token, back.expires_at, back.scope, back.metadata) == (
        "access-value",
        "refresh-value",
        NOW,
        "a",
        {"instance_url": "https://x.example"},
    )
    assert "access-value" not in repr(tokens) and "refresh-value" not in repr(tokens)
