"""Configuration of the connector service, read from the environment (and `.env`).

Variable names are the ones in docs/design.md. In production (`UCF_ENV=production`)
the service refuses to start without a way to authenticate to the vault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"", "change-me", "changeme", "placeholder", "dev", "development"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    ucf_env: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True

    connector_host: str = "127.0.0.1"
    connector_port: int = Field(50051, ge=0, le=65535)
    #: Port of the Prometheus `/metrics` endpoint (on CONNECTOR_HOST, off the API port); 0 turns it off.
    connector_metrics_port: int = Field(9464, ge=0, le=65535)
    mongodb_url: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    mongodb_db: str = "ucf"

    vault_address: str = "127.0.0.1:50052"
    vault_client_token: str | None = None
    vault_client_token_file: Path | None = None
    vault_ca_file: Path | None = None
    vault_client_cert_file: Path | None = None
    vault_client_key_file: Path | None = None
    vault_tls_server_name: str | None = None
    vault_timeout_seconds: float = Field(5.0, gt=0)

    ucf_providers_file: Path | None = None
    ucf_refresh_margin_seconds: int = Field(300, ge=0)
    ucf_public_url: str = "http://localhost:8000"
    #: Lifetime of a connect session token (POST /api/connect-sessions).
    ucf_connect_session_ttl_seconds: int = Field(1800, ge=60, le=86400)
    #: Networks (comma-separated CIDRs) this service may connect to besides globally routable
    #: addresses: tenant-chosen hosts (Atlassian sites, webhook callbacks, PostgreSQL) and
    #: catalog endpoints alike. Empty: public addresses only. See connector_service/platform/egress.py.
    ucf_egress_allowed_networks: str = ""
    #: Failed authentications allowed per source address and per API key id in each window;
    #: beyond it they answer 429 rate_limited with Retry-After (see connector_service/auth/interceptor.py).
    ucf_auth_failure_limit: int = Field(20, ge=1)
    ucf_auth_failure_window_seconds: float = Field(60.0, gt=0)
    #: Peers (comma-separated CIDRs) whose `x-forwarded-for` metadata names the caller's address:
    #: the gateway's. Anyone else is identified by its own peer address.
    ucf_trusted_proxies: str = "127.0.0.1/32,::1/128"

    #: Largest provider answer `/api/proxy` passes back; beyond it the call fails with 502 upstream_error.
    ucf_proxy_max_response_bytes: int = Field(50 * 1024 * 1024, ge=1)

    #: How often the health monitor pings MongoDB and the vault.
    connector_health_interval_seconds: float = Field(5.0, gt=0)
    #: Seconds in-flight RPCs get to finish after SIGTERM/SIGINT.
    connector_shutdown_grace_seconds: float = Field(10.0, ge=0)

    #: Job worker loops in this process (0: this process runs no jobs).
    ucf_job_concurrency: int = Field(2, ge=0, le=64)
    #: How long a claimed job stays owned without a heartbeat before another worker takes it over.
    ucf_job_lease_seconds: float = Field(30.0, gt=0)
    #: How often idle workers look for jobs queued by other processes or left by dead workers.
    ucf_job_poll_seconds: float = Field(1.0, gt=0)
    #: Records per connector page during a sync (the connectors' maximum is 200).
    ucf_sync_page_size: int = Field(200, ge=1, le=200)
    #: Incremental syncs re-read this far behind the high-water mark (late commits, clock skew).
    ucf_sync_lookback_seconds: float = Field(300.0, ge=0)
    #: Webhook deliveries whose event time is further than this from now are refused as stale.
    ucf_webhook_tolerance_seconds: float = Field(300.0, gt=0)
    #: Tries to forward an event to a tenant callback before it becomes a dead letter.
    ucf_webhook_forward_attempts: int = Field(5, ge=1, le=20)
    #: Delay before the first retry of a forward; doubles with each further try.
    ucf_webhook_retry_base_seconds: float = Field(2.0, ge=0)
    #: How often each process looks for upstream webhooks to refresh before they expire (Jira: 30 days).
    ucf_webhook_refresh_interval_seconds: float = Field(3600.0, gt=0)

    #: Shortest interval a sync schedule may have (`every`, `fullEvery`).
    ucf_schedule_min_interval_seconds: int = Field(60, ge=1)
    #: Longest a replica's scheduler sleeps between passes (it wakes earlier for a due schedule it knows).
    ucf_scheduler_poll_seconds: float = Field(1.0, gt=0)
    #: How long a replica's claimed tick may stay without its job before another replica starts it.
    ucf_schedule_claim_seconds: float = Field(30.0, gt=0)
    #: OAuth2 credentials expiring within this are refreshed in the background, read or not.
    ucf_background_refresh_ahead_seconds: float = Field(900.0, gt=0)
    #: How often each replica looks for credentials to refresh in the background.
    ucf_background_refresh_interval_seconds: float = Field(60.0, gt=0)
    #: Longest provider-asked wait (Retry-After, reset header) slept inline; a longer one re-queues the
    #: job with `notBefore` at the provider's time instead.
    ucf_rate_limit_inline_wait_seconds: float = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _production_needs_vault_credentials(self) -> Settings:
        if self.ucf_env != "production":
            return self
        has_mtls = self.vault_client_cert_file and self.vault_client_key_file and self.vault_ca_file
        token = self.resolved_vault_token()
        if not has_mtls and (token is None or token.strip().lower() in _PLACEHOLDERS):
            raise ValueError(
                "production needs VAULT_CLIENT_CERT_FILE/VAULT_CLIENT_KEY_FILE/VAULT_CA_FILE "
                "or a non-placeholder VAULT_CLIENT_TOKEN(_FILE)"
            )
        return self

    def resolved_vault_token(self) -> str | None:
        """The shared vault client token, from the variable or the file it names."""
        if self.vault_client_token:
            return self.vault_client_token
        if self.vault_client_token_file and self.vault_client_token_file.exists():
            return self.vault_client_token_file.read_text().strip() or None
        return None
