"""Configuration of the vault, read from the environment (and `.env`).

Variable names are the ones in docs/design.md. The key ring itself is parsed
and validated by `keyring.KeyRing.from_settings` when the server starts, so
commands that never touch key material (`status`, `verify-audit`, ...) run
without it. In production (`UCF_ENV=production`) the settings refuse a vault
that could be called without a real credential: either mutual TLS is fully
configured or the shared client token is set and is not a placeholder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDERS = {"", "change-me", "changeme", "placeholder", "dev", "development", "secret", "token"}
#: Shorter shared tokens are refused in production (32 random url-safe characters ≈ 190 bits).
MIN_PRODUCTION_TOKEN_LENGTH = 24


def _names(value: object) -> object:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    ucf_env: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True

    vault_host: str = "127.0.0.1"
    vault_port: int = Field(50052, ge=0, le=65535)
    #: Port of the Prometheus `/metrics` endpoint (on VAULT_HOST, off the API port); 0 turns it off.
    vault_metrics_port: int = Field(9465, ge=0, le=65535)
    vault_mongodb_url: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    vault_mongodb_db: str = "ucf_vault"

    #: `id:fernetkey,id:fernetkey`, primary first. Never logged (SecretStr).
    vault_keys: SecretStr | None = None
    vault_keys_file: Path | None = None

    vault_client_token: SecretStr | None = None
    vault_client_token_file: Path | None = None

    vault_tls_cert_file: Path | None = None
    vault_tls_key_file: Path | None = None
    vault_tls_client_ca_file: Path | None = None
    #: Certificate identities (common name or DNS/URI SAN) allowed to use secrets.
    vault_allowed_clients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Certificate identities allowed to administer keys (status, rewrap, retire).
    vault_admin_clients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    vault_reflection: bool = False

    #: Seconds between health checks of MongoDB and the audit log.
    vault_health_interval_seconds: float = Field(5.0, gt=0)
    #: Seconds in-flight RPCs get to finish after SIGTERM/SIGINT.
    vault_shutdown_grace_seconds: float = Field(10.0, ge=0)
    #: Seconds between the audit-head log lines (also written at start and stop; see audit_head.py).
    vault_audit_head_interval_seconds: float = Field(300.0, gt=0)
    #: Secrets re-encrypted per batch when a Rewrap request leaves batch_size at 0.
    vault_rewrap_batch_size: int = Field(200, ge=1, le=10_000)

    _split_allowed = field_validator("vault_allowed_clients", "vault_admin_clients", mode="before")(_names)

    @property
    def tls_enabled(self) -> bool:
        return any((self.vault_tls_cert_file, self.vault_tls_key_file, self.vault_tls_client_ca_file))

    def resolved_client_token(self) -> str | None:
        """The shared client token, from the variable or the file it names."""
        if self.vault_client_token is not None and self.vault_client_token.get_secret_value().strip():
            return self.vault_client_token.get_secret_value().strip()
        if self.vault_client_token_file is not None and self.vault_client_token_file.exists():
            return self.vault_client_token_file.read_text().strip() or None
        return None

    def key_ring_text(self) -> str | None:
        """The raw key-ring configuration, from the variable or the file it names."""
        if self.vault_keys is not None and self.vault_keys.get_secret_value().strip():
            return self.vault_keys.get_secret_value()
        if self.vault_keys_file is not None:
            return self.vault_keys_file.read_text() if self.vault_keys_file.exists() else None
        return None

    @model_validator(mode="after")
    def _tls_is_all_or_nothing(self) -> Settings:
        files = (self.vault_tls_cert_file, self.vault_tls_key_file, self.vault_tls_client_ca_file)
        if any(files) and not all(files):
            raise ValueError(
                "mutual TLS needs all of VAULT_TLS_CERT_FILE, VAULT_TLS_KEY_FILE and VAULT_TLS_CLIENT_CA_FILE"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_real_credentials(self) -> Settings:
        if self.ucf_env != "production":
            return self
        if self.tls_enabled:
            if not self.vault_allowed_clients:
                raise ValueError("production with mTLS needs VAULT_ALLOWED_CLIENTS (certificate identities)")
            return self
        token = self.resolved_client_token()
        if token is None or token.lower() in _PLACEHOLDERS or len(token) < MIN_PRODUCTION_TOKEN_LENGTH:
            raise ValueError(
                "production needs mutual TLS (VAULT_TLS_*) or a random VAULT_CLIENT_TOKEN(_FILE) "
                f"of at least {MIN_PRODUCTION_TOKEN_LENGTH} characters"
            )
        return self
