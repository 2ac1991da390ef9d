"""Proving a credential works upstream, as the provider's catalog entry says.

An `http` verification is a GET whose URL, headers and optional Basic auth are
filled from the typed credential's `template_values` and the connection metadata
(`{access_token}`, `{api_key}`, `{instance_url}`, `{site}`, ...) and must answer 2xx; a `postgres`
verification connects and runs `select 1`. A provider may check each auth mode
its own way (`ProviderSpec.verification_for`).
`verify` answers a `Verdict`; it raises only when the provider could not be
asked at all. Messages never echo the credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import mask_secrets
from ucf_common.naming import camel

from connector_service.catalog.providers import ProviderSpec, VerificationSpec
from connector_service.catalog.templates import PLACEHOLDER as _PLACEHOLDER
from connector_service.catalog.templates import fill, lookup
from connector_service.connectors.auth import BasicCredential, Credential, FormCredential, basic_authorization
from connector_service.connectors.pg_conninfo import DatabaseSettings, materialized
from connector_service.platform import destinations, egress

__all__ = ["Verdict", "fill", "verify", "postgres_conninfo"]
_PG_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Verdict:
    valid: bool
    message: str
    #: False when the provider has no way to check; `valid` is then True by assumption.
    checked: bool = True


async def verify(
    provider: ProviderSpec, credential: Credential, metadata: Mapping[str, Any], http: httpx.AsyncClient
) -> Verdict:
    spec = provider.verification_for(credential.kind)
    if spec is None:
        return Verdict(True, "the provider offers no way to verify credentials", checked=False)
    if spec.kind == "postgres":
        form = credential.fields if isinstance(credential, BasicCredential | FormCredential) else {}
        return await _verify_postgres(DatabaseSettings.from_form(form, ErrorCode.INVALID_REQUEST))
    return await _verify_http(spec, credential.template_values(metadata), http)


async def _verify_http(spec: VerificationSpec, values: dict[str, Any], http: httpx.AsyncClient) -> Verdict:
    try:
        url = fill(spec.url or "", values)
        headers = {name: fill(value, values) for name, value in spec.headers.items()}
        if spec.basic_auth:
            pair = fill(spec.basic_auth.username, values), fill(spec.basic_auth.password, values)
            headers["Authorization"] = basic_authorization(*pair)
    except KeyError as missing:
        return Verdict(False, f"the credential lacks {camel(missing.args[0])!r} needed to verify it")
    field = _chosen_by(spec.url or "")
    try:
        response = await http.request(spec.method, url, headers=headers, json=spec.body)
    except httpx.TimeoutException:
        raise UcfError(ErrorCode.TIMEOUT, "the provider did not answer the verification request in time") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        raise destinations.unusable_url(field) from None
    except httpx.HTTPError as exc:
        if refused := egress.refusal(exc):
            raise egress.refused_error(refused, field) from None
        raise UcfError(ErrorCode.UPSTREAM_ERROR, f"could not reach the provider: {type(exc).__name__}") from None
    if response.is_success and not _expected(spec, response):
        return Verdict(False, "the provider answered but did not accept the credential")
    if response.is_success:
        return Verdict(True, "the provider accepted the credential")
    if response.status_code in (401, 403):
        return Verdict(False, f"the provider rejected the credential (HTTP {response.status_code})")
    raise UcfError(
        ErrorCode.UPSTREAM_ERROR,
        f"the provider answered HTTP {response.status_code} to verification",
        {"providerStatus": response.status_code},
    )


def _expected(spec: VerificationSpec, response: httpx.Response) -> bool:
    """Whether the answer holds what the entry's `expect` asks (always, without `expect`)."""
    if not spec.expect:
        return True
    try:
        answer = response.json()
    except ValueError:
        return False
    try:
        found = {path: lookup(answer, path) for path in spec.expect}
    except KeyError:
        return False
    # `1 == True` in Python; an `ok: true` check must not pass on `ok: 1`.
    return all(type(found[p]) is type(v) and found[p] == v for p, v in spec.expect.items())


def _chosen_by(template: str) -> str:
    """The value a URL template takes its host from (`{site}/rest/...` -> site), "" for a fixed host."""
    match = _PLACEHOLDER.match(template)
    return match.group(1) if match else ""


def postgres_conninfo(settings: DatabaseSettings) -> dict[str, Any]:
    """psycopg connection keywords for the check (PEM fields as text)."""
    return {**settings.conninfo(), "connect_timeout": _PG_TIMEOUT_SECONDS}


async def _verify_postgres(settings: DatabaseSettings) -> Verdict:
    params = await egress.checked_pg_params(postgres_conninfo(settings), ErrorCode.INVALID_REQUEST)
    try:
        with materialized(params) as files:
            async with await psycopg.AsyncConnection.connect(**files) as conn:
                await (await conn.execute("select 1")).fetchone()
    except psycopg.OperationalError as exc:
        text = str(exc).strip()
        reason = mask_secrets(text.splitlines()[0] if text else "connection failed")
        for secret in (params.get("password"), params.get("sslkey")):
            if secret:
                reason = reason.replace(secret, "***")
        return Verdict(False, f"could not connect to PostgreSQL: {reason}")
    except psycopg.Error as exc:
        return Verdict(False, f"PostgreSQL refused the check: {type(exc).__name__}")
    return Verdict(True, "connected to PostgreSQL and ran select 1")
