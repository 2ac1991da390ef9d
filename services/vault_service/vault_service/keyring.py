"""The Fernet key ring and the sealed-record format.

A ring is configured as `id:fernetkey` entries, primary first (comma- or
newline-separated, `#` comments allowed in a key file). New ciphertexts are
always made with the primary key (`MultiFernet.encrypt` over the active
ring, whose first key is the primary); each record stores
the id of the key that made it, and is opened with exactly that key, so a
record whose key id was edited does not decrypt either.

What is encrypted is not the bare payload but an envelope that also carries
the record's identity — tenant, owner, kind and version — and reading checks
it against the row the ciphertext came from. A ciphertext copied onto another
record, an older version replayed onto the same record, or any flipped byte
(Fernet's HMAC) raises `IntegrityError`; no plaintext ever leaves on that path.

A key marked retired (see `store.KeyStates`) stays in the object for status
reporting but is no longer used to decrypt anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENVELOPE_FORMAT = 1


class KeyRingError(ValueError):
    """The configured key ring is missing or malformed (the message never contains key material)."""


class IntegrityError(Exception):
    """A ciphertext failed authentication or does not belong to the record it was read from."""


class KeyUnavailableError(Exception):
    """A record names a key that is not in the ring or has been retired."""

    def __init__(self, key_id: str):
        super().__init__(f"key {key_id!r} is not available for decryption")
        self.key_id = key_id


@dataclass(frozen=True)
class SecretIdentity:
    """What a ciphertext is bound to. `kind` is the SecretKind short name (e.g. `api_key`)."""

    tenant_id: str
    owner_id: str
    kind: str
    version: int

    def as_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant_id, "owner": self.owner_id, "kind": self.kind, "version": self.version}


def parse_key_ring(text: str) -> list[tuple[str, bytes]]:
    """`id:key` entries in order. Raises KeyRingError naming the bad entry by position, never its content."""
    entries: list[tuple[str, bytes]] = []
    seen_ids: set[str] = set()
    seen_keys: set[bytes] = set()
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    items = [item.strip() for line in lines for item in line.split(",") if item.strip()]
    for position, item in enumerate(items, start=1):
        key_id, sep, key = item.partition(":")
        key_id, key = key_id.strip(), key.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise KeyRingError(f"key ring entry {position} is not `id:key` with an id of [A-Za-z0-9._-]{{1,64}}")
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise KeyRingError(f"key {key_id!r} is not a valid Fernet key (32 url-safe base64 bytes)") from None
        if key_id in seen_ids:
            raise KeyRingError(f"key id {key_id!r} appears twice in the key ring")
        if key.encode() in seen_keys:
            raise KeyRingError(f"key {key_id!r} repeats the material of another key")
        seen_ids.add(key_id)
        seen_keys.add(key.encode())
        entries.append((key_id, key.encode()))
    if not entries:
        raise KeyRingError("the key ring is empty")
    return entries


class KeyRing:
    """Primary-first Fernet keys with ids; seals and opens bound envelopes."""

    def __init__(self, entries: Iterable[tuple[str, bytes]], retired: Iterable[str] = ()):
        self._fernets = {key_id: Fernet(key) for key_id, key in entries}
        if not self._fernets:
            raise KeyRingError("the key ring is empty")
        self.primary_id = next(iter(self._fernets))
        self._retired: set[str] = set()
        self._ring = MultiFernet(list(self._fernets.values()))
        self.mark_retired(retired)

    @classmethod
    def from_text(cls, text: str | None) -> KeyRing:
        if text is None or not text.strip():
            raise KeyRingError(
                "no key ring configured: set VAULT_KEYS or VAULT_KEYS_FILE (python -m vault_service keygen)"
            )
        return cls(parse_key_ring(text))

    @property
    def key_ids(self) -> list[str]:
        """Configured key ids, primary first."""
        return list(self._fernets)

    @property
    def retired(self) -> frozenset[str]:
        return frozenset(self._retired)

    def mark_retired(self, key_ids: Iterable[str]) -> None:
        """Stops decrypting with these keys. The primary key cannot be retired."""
        for key_id in key_ids:
            if key_id == self.primary_id:
                raise KeyRingError(f"the primary key {key_id!r} is marked retired; put a new key first in the ring")
            self._retired.add(key_id)
        self._ring = MultiFernet([f for kid, f in self._fernets.items() if kid not in self._retired])

    def seal(self, identity: SecretIdentity, payload: dict[str, Any]) -> tuple[str, str]:
        """(key id, Fernet token) for the payload bound to `identity`, under the primary key."""
        envelope = {"f": _ENVELOPE_FORMAT, "id": identity.as_dict(), "payload": payload}
        plaintext = json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()
        return self.primary_id, self._ring.encrypt(plaintext).decode()

    def open(self, identity: SecretIdentity, key_id: str, token: str) -> dict[str, Any]:
        """The payload, after checking the token's key, authenticity and bound identity."""
        envelope = self._open_envelope(identity, key_id, token)
        return envelope["payload"]

    def reseal(self, identity: SecretIdentity, key_id: str, token: str) -> tuple[str, str]:
        """The same envelope re-encrypted under the primary key, after the same checks as `open`."""
        envelope = self._open_envelope(identity, key_id, token)
        plaintext = json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()
        return self.primary_id, self._ring.encrypt(plaintext).decode()

    def _open_envelope(self, identity: SecretIdentity, key_id: str, token: str) -> dict[str, Any]:
        fernet = self._fernets.get(key_id)
        if fernet is None or key_id in self._retired:
            raise KeyUnavailableError(key_id)
        try:
            envelope = json.loads(fernet.decrypt(token.encode() if isinstance(token, str) else token))
        except (InvalidToken, ValueError, TypeError):
            raise IntegrityError("ciphertext failed authentication") from None
        if not isinstance(envelope, dict) or envelope.get("f") != _ENVELOPE_FORMAT:
            raise IntegrityError("ciphertext has an unknown envelope format")
        if envelope.get("id") != identity.as_dict():
            raise IntegrityError("ciphertext belongs to another record or version")
        if not isinstance(envelope.get("payload"), dict):
            raise IntegrityError("ciphertext carries no payload object")
        return envelope
