"""PKCE (RFC 7636) and `state` values.

Only the S256 method is offered: RFC 9700 §2.1.1 tells clients not to use `plain`.
The verifier is 86 characters of the unreserved alphabet (RFC 7636 §4.1 allows 43–128),
drawn from `secrets`, so it carries 512 bits of entropy.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

CHALLENGE_METHOD = "S256"


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PkcePair:
    """A verifier (kept server-side, hidden from `repr`) and the challenge sent to the provider."""

    verifier: str = field(repr=False)
    challenge: str
    method: str = CHALLENGE_METHOD


def new_pkce_pair() -> PkcePair:
    verifier = secrets.token_urlsafe(64)
    return PkcePair(verifier=verifier, challenge=s256_challenge(verifier))


def new_state() -> str:
    """An unguessable, single-use CSRF token for the authorization request (256 bits)."""
    return secrets.token_urlsafe(32)
