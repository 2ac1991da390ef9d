"""Configuration of the gateway, read from the environment (and `.env`).

Variable names are the ones in docs/design.md. The gateway holds no secret, so
production mode needs nothing extra here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    ucf_env: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, ge=0, le=65535)
    connector_address: str = "127.0.0.1:50051"
    api_prefix: str = "/api"
    #: `GET /metrics` (Prometheus, unauthenticated, on the API port) and the HTTP request metrics.
    gateway_metrics_enabled: bool = True

    #: Deadline of RPCs that stay inside our processes (catalog, connections, jobs).
    gateway_rpc_timeout_seconds: float = Field(10.0, gt=0)
    #: Deadline of RPCs that may call a provider (onboarding, resources, refresh, webhooks).
    gateway_upstream_rpc_timeout_seconds: float = Field(30.0, gt=0)
    #: Deadline of each health probe behind `GET /`.
    gateway_health_timeout_seconds: float = Field(2.0, gt=0)
    #: Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    gateway_shutdown_grace_seconds: float = Field(10.0, ge=0)

    #: Largest request body (bytes); larger ones get 413 before any other work.
    gateway_max_body_bytes: int = Field(1024 * 1024, ge=1)
    #: Largest provider delivery to `POST {prefix}/webhooks/{id}` (bytes).
    gateway_max_webhook_body_bytes: int = Field(5 * 1024 * 1024, ge=1)
    #: Most request headers, and most bytes of them (names plus values); more get 431.
    gateway_max_headers: int = Field(100, ge=1)
    gateway_max_header_bytes: int = Field(16 * 1024, ge=1)
    #: Comma-separated `Host` names served (`*.example.com` for subdomains); empty serves any.
    gateway_allowed_hosts: str = ""

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return tuple(host.strip() for host in self.gateway_allowed_hosts.split(",") if host.strip())

    @field_validator("api_prefix")
    @classmethod
    def _normalise_prefix(cls, value: str) -> str:
        """`api/`, `/api/` and `/api` all mean `/api`; an empty prefix serves at the root."""
        value = value.strip().strip("/")
        return f"/{value}" if value else ""
