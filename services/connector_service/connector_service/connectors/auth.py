"""A connection's credential: one frozen type per auth mode, tagged by `kind`.

`credential_from_payload` reads the vault payload (shapes in `vault/kinds.py`) once, when
the credential cache misses; everything after that (the proxy, verification, the
connectors, `GetToken`) works on the typed value. Secret fields are left out of `repr`.

A credential puts itself on a request with `request_auth(placement, metadata)`: the
placement is the catalog's `request_auth` for the mode (bearer, a named header, a query
parameter or Basic, see `RequestAuthSpec`), its `{name}` templates filled from
`template_values`, the names catalog templates may use for this credential.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ucf_common.errors import ErrorCode

from connector_service.catalog.providers import RequestAuthSpec
from connector_service.catalog.templates import fill
from connector_service.connectors.pg_conninfo import DatabaseSettings
from connector_service.oauth.tokens import TokenSet

#: Names whose values are secret, in a form or among a credential's template values, whatever
#: the provider calls the rest (the proxy keeps every such value out of what it returns).
SECRET_NAMES = frozenset(
    {"access_token", "api_key", "api_secret", "api_token", "basic_auth", "password", "secret", "sslkey", "token"}
)
_BEARER = RequestAuthSpec()


@dataclass(frozen=True)
class RequestAuth:
    """What authenticates one request: headers to set and query parameters to add."""

    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    params: Mapping[str, str] = field(default_factory=dict, repr=False)


def basic_authorization(username: str, password: str) -> str:
    """An RFC 7617 `Authorization` value."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _scalars(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, str | int | float)}


class _Applies:
    """How every mode's credential goes on a request; each mode says what it names and sends."""

    kind: str
    #: The placement used when the caller has none (the catalog's default for the mode).
    default_placement: ClassVar[RequestAuthSpec | None] = _BEARER
    #: The template a bearer, header or query placement without `value` sends.
    default_value: ClassVar[str] = "{access_token}"

    def own_values(self) -> dict[str, Any]:
        raise NotImplementedError

    def template_values(self, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Names usable in catalog templates: the connection's (scalar) system metadata,
        overridden by the credential's own names."""
        return {**_scalars(metadata or {}), **self.own_values()}

    def request_auth(
        self, placement: RequestAuthSpec | None = None, metadata: Mapping[str, Any] | None = None
    ) -> RequestAuth:
        """The headers or query parameters `placement` asks for. `KeyError(name)` when a
        template names something neither the credential nor `metadata` has; `ValueError`
        when the mode has no way to be sent (a `credentials` form without a placement)."""
        placement = placement or self.default_placement
        if placement is None:
            raise ValueError(f"the {self.kind} credential of this provider cannot be sent on a request")
        values = self.template_values(metadata)
        if placement.type == "basic":
            pair = fill(placement.username or "", values), fill(placement.password or "", values)
            return RequestAuth(headers={"Authorization": basic_authorization(*pair)})
        value = fill(placement.value or self.default_value, values)
        if placement.type == "bearer":
            return RequestAuth(headers={"Authorization": f"Bearer {value}"})
        if placement.type == "header":
            return RequestAuth(headers={placement.name or "": value})
        return RequestAuth(params={placement.name or "": value})


@dataclass(frozen=True)
class OAuth2Credential(_Applies):
    """An OAuth2 token set; `tokens.metadata` holds the non-secret token-response facts
    (Salesforce `instance_url`)."""

    tokens: TokenSet
    kind: Literal["oauth2"] = field(default="oauth2", init=False)

    @property
    def access_token(self) -> str:
        return self.tokens.access_token

    @property
    def scopes(self) -> tuple[str, ...]:
        """What the provider granted, empty when it did not say."""
        return tuple((self.tokens.scope or "").split())

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.tokens.metadata

    def own_values(self) -> dict[str, Any]:
        return {**self.tokens.metadata, "access_token": self.tokens.access_token}

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.tokens.access_token, self.tokens.refresh_token) if v)

    def to_payload(self) -> dict[str, Any]:
        return self.tokens.to_payload()


@dataclass(frozen=True)
class ApiKeyCredential(_Applies):
    """An API key (a personal access token), with the second secret some providers pair it with."""

    api_key: str = field(repr=False)
    api_secret: str | None = field(default=None, repr=False)
    kind: Literal["api_key"] = field(default="api_key", init=False)
    default_value: ClassVar[str] = "{api_key}"

    @property
    def settings(self) -> Mapping[str, Any]:
        return {}

    def own_values(self) -> dict[str, Any]:
        # `{access_token}` too: a verification template may serve both of a provider's modes.
        return {"api_key": self.api_key, "access_token": self.api_key, "api_secret": self.api_secret}

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.api_key, self.api_secret) if v)

    def to_payload(self) -> dict[str, Any]:
        return {"apiKey": self.api_key, **({"apiSecret": self.api_secret} if self.api_secret else {})}


@dataclass(frozen=True)
class BasicCredential(_Applies):
    """The provider's Basic form: `{username, password}` or its own names (Atlassian
    `{site, email, api_token}`); which fields make the pair is the placement's business."""

    fields: Mapping[str, Any] = field(repr=False)
    kind: Literal["basic"] = field(default="basic", init=False)
    default_placement: ClassVar[RequestAuthSpec | None] = RequestAuthSpec(
        type="basic", username="{username}", password="{password}"
    )

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.fields

    def own_values(self) -> dict[str, Any]:
        username, password = self.fields.get("username"), self.fields.get("password")
        return {
            **_scalars(self.fields),
            "username": username,
            "password": password,
            "basic_auth": basic_authorization(username or "", password or "").removeprefix("Basic "),
        }

    def secret_values(self) -> tuple[str, ...]:
        return _form_secrets(self.fields)

    def to_payload(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass(frozen=True)
class FormCredential(_Applies):
    """A provider's own credentials form (PostgreSQL's connection settings); it has no
    request placement unless the catalog declares one."""

    fields: Mapping[str, Any] = field(repr=False)
    kind: Literal["credentials"] = field(default="credentials", init=False)
    default_placement: ClassVar[RequestAuthSpec | None] = None

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.fields

    def database(self, code: ErrorCode = ErrorCode.FAILED_PRECONDITION) -> DatabaseSettings:
        """The form as PostgreSQL connection settings; a form that cannot work raises `code`."""
        return DatabaseSettings.from_form(self.fields, code)

    def own_values(self) -> dict[str, Any]:
        return _scalars(self.fields)

    def secret_values(self) -> tuple[str, ...]:
        return _form_secrets(self.fields)

    def to_payload(self) -> dict[str, Any]:
        return dict(self.fields)


Credential = OAuth2Credential | ApiKeyCredential | BasicCredential | FormCredential


def _form_secrets(fields: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(v) for k, v in fields.items() if k in SECRET_NAMES and v)


def credential_from_payload(kind: str, payload: Mapping[str, Any]) -> Credential:
    """The typed credential of a vault payload stored for auth mode `kind`."""
    if kind == "oauth2":
        return OAuth2Credential(TokenSet.from_payload(payload))
    if kind == "api_key":
        return ApiKeyCredential(str(payload.get("apiKey") or ""), payload.get("apiSecret") or None)
    if kind == "basic":
        return BasicCredential(dict(payload))
    if kind == "credentials":
        return FormCredential(dict(payload))
    raise ValueError(f"unknown credential kind {kind!r}")
