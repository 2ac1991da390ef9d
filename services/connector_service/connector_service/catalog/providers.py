"""The provider catalog: what each provider needs for onboarding and tokens, as data.

Loaded once at start from the built-in `providers.yaml` and, when
`UCF_PROVIDERS_FILE` is set, an operator file of the same shape
(`providers:` id → entry). An operator entry with a built-in id replaces the
built-in entry as a whole. Any invalid entry raises `CatalogError` naming the
provider and the field, and the service refuses to start.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connector_service.catalog.references import unknown_references
from connector_service.catalog.templates import fill, lookup, url_problem

AuthModeName = Literal["oauth2", "api_key", "basic", "credentials"]
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CONNECT_VALUE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$")


def _url(value: str) -> str:
    if problem := url_problem(value):
        raise ValueError(problem)
    return value


#: An https URL template (http only for loopback hosts); see `templates.url_problem`.
UrlTemplate = Annotated[str, AfterValidator(_url)]


class CatalogError(ValueError):
    """The catalog cannot be used; the message names the provider and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialFieldSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    label: str
    #: `url`: an http(s) URL, stored without a trailing slash.
    type: Literal["string", "integer", "boolean", "password", "list", "url"] = "string"
    required: bool = True
    secret: bool = False
    description: str = ""


class ConnectParamSpec(CredentialFieldSpec):
    """A non-secret value the user gives when connecting that picks the host or tenant
    (Shopify `shop`, Microsoft `tenant`). It is kept in the connection's system metadata and
    may be used as `{name}` in the entry's URLs, headers and request auth."""

    #: Used when the user leaves the field empty (Microsoft: "common"); a default makes it optional.
    default: str | None = None


class MetadataRequestSpec(_Strict):
    """A GET made with the fresh access token after onboarding; `fields` maps a
    connection-metadata name to a key of the answer (its first element when it is a list).
    A key may be a dotted path into nested objects and lists (`accounts.0.base_uri`)."""

    url: UrlTemplate
    fields: dict[str, str]

    def extract(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The declared fields found in `answer`; a path that leads nowhere is left out."""
        found: dict[str, Any] = {}
        for name, path in self.fields.items():
            try:
                found[name] = lookup(answer, path)
            except KeyError:
                continue
        return found


class RequestAuthSpec(_Strict):
    """How a credential is put on an outgoing API (proxy) request.

    `bearer` sends `Authorization: Bearer <value>`; `header` and `query` send `value` under
    `name`; `basic` sends `Authorization: Basic base64(username:password)`. `value` defaults to
    `{access_token}` for OAuth2 and `{api_key}` for API-key credentials.
    """

    type: Literal["bearer", "header", "query", "basic"] = "bearer"
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,128}$")
    value: str | None = None
    username: str | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> RequestAuthSpec:
        if self.type in ("header", "query") and not self.name:
            raise ValueError(f"a {self.type} request_auth needs a name")
        if self.type == "basic" and self.username is None:
            raise ValueError("a basic request_auth needs a username template")
        if self.type != "basic" and (self.username is not None or self.password is not None):
            raise ValueError("username and password belong to a basic request_auth")
        return self


class RateLimitSpec(_Strict):
    """How the provider tells a client to wait (only what its docs say)."""

    #: Seconds or an HTTP date (RFC 9110 §10.2.3).
    retry_after_header: str | None = None
    reset_header: str | None = None
    #: What the reset header carries: a Unix time (seconds or milliseconds), seconds or
    #: milliseconds to wait, or an HTTP date.
    reset_format: Literal["epoch_seconds", "epoch_millis", "seconds", "duration_ms", "http_date"] | None = None
    remaining_header: str | None = None
    #: Statuses that mean "slow down" (GitHub-style providers use 403 too).
    statuses: list[int] = [429]

    @model_validator(mode="after")
    def _reset_needs_format(self) -> RateLimitSpec:
        if self.reset_header and not self.reset_format:
            raise ValueError("reset_header needs a reset_format")
        return self


class BasicAuthSpec(_Strict):
    """HTTP Basic credentials built from templates (`{email}`, `{api_token}`...)."""

    username: str
    password: str


class VerificationSpec(_Strict):
    """How to prove a credential works: an HTTP GET that must answer 2xx, or a database check."""

    kind: Literal["http", "postgres"] = "http"
    #: POST for GraphQL-only APIs (Linear, monday) and RPC-style ones (Dropbox).
    method: Literal["GET", "POST"] = "GET"
    url: UrlTemplate | None = None
    headers: dict[str, str] = {}
    #: Sent as `Authorization: Basic base64(username:password)` after filling the templates.
    basic_auth: BasicAuthSpec | None = None
    #: A JSON body sent as is (POST only; not a template).
    body: dict[str, Any] | None = None
    #: Dotted paths into the JSON answer and the values they must hold (Slack: `{ok: true}`),
    #: for providers that answer 200 to a rejected credential.
    expect: dict[str, str | int | bool] = {}

    @model_validator(mode="after")
    def _http_needs_url(self) -> VerificationSpec:
        if self.kind == "http" and not self.url:
            raise ValueError("an http verification needs a url")
        if self.body is not None and self.method != "POST":
            raise ValueError("a verification body needs method POST")
        return self


class AuthModeSpec(_Strict):
    """What one auth mode asks for when it differs from the entry's top level
    (Atlassian: OAuth2 through the API gateway, or an API token checked on the site)."""

    credential_fields: list[CredentialFieldSpec] = []
    verification: VerificationSpec | None = None
    #: The API host for this mode when it differs (an Atlassian API token talks to `{site}`).
    base_url: UrlTemplate | None = None
    request_auth: RequestAuthSpec | None = None
    #: Added to (and overriding) the entry's `headers` for this mode.
    headers: dict[str, str] = {}


class ProviderSpec(_Strict):
    display_name: str = Field(min_length=1)
    auth_mode: AuthModeName
    extra_auth_modes: list[AuthModeName] = []
    docs_url: str | None = None
    authorization_url: UrlTemplate | None = None
    token_url: UrlTemplate | None = None
    revocation_url: UrlTemplate | None = None
    #: RFC 9207: when set, a callback's `iss` must equal it.
    issuer: str | None = None
    default_scopes: list[str] = []
    scope_separator: str = " "
    pkce: bool = True
    token_auth_method: Literal["client_secret_post", "client_secret_basic", "none"] = "client_secret_post"
    authorization_params: dict[str, str] = {}
    token_params: dict[str, str] = {}
    #: Token-response fields kept (non-secret) in the connection's metadata.
    token_response_metadata: list[str] = []
    #: Where proxied requests go; `{placeholders}` come from connect params and system metadata.
    base_url: UrlTemplate | None = None
    connection_metadata: MetadataRequestSpec | None = None
    verification: VerificationSpec | None = None
    credential_fields: list[CredentialFieldSpec] = []
    connect_params: list[ConnectParamSpec] = []
    #: How the credential goes on a proxied request; plain bearer (or basic for `basic`) when absent.
    request_auth: RequestAuthSpec | None = None
    #: Sent on every proxied request (`Notion-Version`); values may be templates.
    headers: dict[str, str] = {}
    rate_limit: RateLimitSpec | None = None
    #: Per-mode form and verification, overriding `credential_fields` / `verification` for that mode.
    modes: dict[AuthModeName, AuthModeSpec] = {}

    @field_validator("scope_separator")
    @classmethod
    def _separator(cls, value: str) -> str:
        if value not in (" ", ",", "+"):
            raise ValueError("must be ' ', ',' or '+'")
        return value

    @model_validator(mode="after")
    def _mode_requirements(self) -> ProviderSpec:
        if "oauth2" in self.auth_modes:
            for name in ("authorization_url", "token_url"):
                if not getattr(self, name):
                    raise ValueError(f"{name} is required for auth_mode oauth2")
        for mode, override in self.modes.items():
            if mode not in self.auth_modes:
                raise ValueError(f"modes.{mode}: {mode!r} is not one of this provider's auth modes")
            if mode == "oauth2" and override.credential_fields:
                raise ValueError("modes.oauth2: an OAuth2 mode has no credential form")
        for mode in set(self.auth_modes) - {"oauth2", "basic"}:
            if not self._fields_of(mode):
                raise ValueError(f"credential_fields are required for the {mode} mode")
        return self

    def mode_override(self, mode: str) -> AuthModeSpec | None:
        """The `modes` entry for `mode`, None without one. `mode` comes from requests and stored
        connections, so it is any string; one that names no mode simply has no entry."""
        return self.modes.get(cast(AuthModeName, mode))

    def _fields_of(self, mode: str) -> list[CredentialFieldSpec]:
        override = self.mode_override(mode)
        return list(override.credential_fields if override and override.credential_fields else self.credential_fields)

    @property
    def auth_modes(self) -> list[AuthModeName]:
        return [self.auth_mode, *[m for m in self.extra_auth_modes if m != self.auth_mode]]

    def form_fields(self, mode: str) -> list[CredentialFieldSpec]:
        """The inputs a non-OAuth mode asks for."""
        fields = self._fields_of(mode)
        if mode == "basic" and not fields:
            return [
                CredentialFieldSpec(name="username", label="Username"),
                CredentialFieldSpec(name="password", label="Password", type="password", secret=True),
            ]
        if mode == "api_key":
            keyed = [f for f in fields if f.name in ("api_key", "api_secret")]
            return keyed or [CredentialFieldSpec(name="api_key", label="API key", type="password", secret=True)]
        return fields

    def verification_for(self, mode: str) -> VerificationSpec | None:
        """How a credential of `mode` is checked: the mode's own verification, else the entry's."""
        override = self.mode_override(mode)
        return override.verification if override and override.verification else self.verification

    def base_url_for(self, mode: str) -> str | None:
        """The API base a credential of `mode` is sent to (a template), None without a proxy."""
        override = self.mode_override(mode)
        return override.base_url if override and override.base_url else self.base_url

    def request_auth_for(self, mode: str) -> RequestAuthSpec | None:
        """How a credential of `mode` goes on a request: the mode's own, else the entry's, else
        bearer (OAuth2, API key) or Basic from the form (basic); None for a `credentials` mode
        without one, which then cannot be proxied."""
        override = self.mode_override(mode)
        if override and override.request_auth:
            return override.request_auth
        if self.request_auth:
            return self.request_auth
        if mode == "basic":
            names = [f.name for f in self.form_fields("basic")]
            return RequestAuthSpec(type="basic", username=f"{{{names[0]}}}", password=f"{{{names[-1]}}}")
        return RequestAuthSpec() if mode in ("oauth2", "api_key") else None

    def headers_for(self, mode: str) -> dict[str, str]:
        """Extra headers (templates) for proxied requests made with a credential of `mode`."""
        override = self.mode_override(mode)
        return {**self.headers, **(override.headers if override else {})}

    def with_connect_values(self, values: dict[str, str]) -> ProviderSpec:
        """This entry with `{connect param}` placeholders in its OAuth endpoints filled
        (`values` from `connect_values`), ready for the OAuth engine. A `revocation_url` that
        also names a token fact not in `values` is dropped (no upstream revocation) rather
        than sent unfilled; a missing value for the other two raises `KeyError(name)`."""
        filled: dict[str, str | None] = {
            name: fill(url, values) for name in ("authorization_url", "token_url") if (url := getattr(self, name))
        }
        if self.revocation_url:
            try:
                filled["revocation_url"] = fill(self.revocation_url, values)
            except KeyError:
                filled["revocation_url"] = None
        return self.model_copy(update=filled)

    def for_connection(self, system_metadata: dict[str, Any] | None) -> ProviderSpec:
        """This entry's OAuth endpoints filled for one connection: from the connect params it
        was onboarded with (kept in its system metadata; defaults for those it lacks) and, in
        `revocation_url`, its kept token facts. `ValueError` names a missing connect param."""
        metadata = {k: str(v) for k, v in (system_metadata or {}).items() if isinstance(v, str | int | float)}
        if not self.connect_params and not any("{" in (u or "") for u in (self.token_url, self.revocation_url)):
            return self
        connect = self.connect_values({p.name: metadata.get(p.name, "") for p in self.connect_params})
        return self.with_connect_values({**metadata, **connect})

    def connect_values(self, given: dict[str, str]) -> dict[str, str]:
        """The connect parameters with defaults applied; `ValueError` naming the first missing
        or malformed one. Values must look like a host label, domain or id, so a parameter
        used in a URL cannot move the request to another host or path."""
        values: dict[str, str] = {}
        for param in self.connect_params:
            value = (given.get(param.name) or "").strip() or (param.default or "")
            if not value:
                if param.required:
                    raise ValueError(f"{param.name} is required")
                continue
            if not _CONNECT_VALUE.match(value):
                raise ValueError(f"{param.name} may hold only letters, digits, '.', '-' and '_'")
            values[param.name] = value
        return values


class Catalog:
    """Provider id → validated `ProviderSpec`, in a stable order (built-ins first)."""

    def __init__(self, providers: dict[str, ProviderSpec]):
        self._providers = providers

    def get(self, provider_id: str) -> ProviderSpec | None:
        return self._providers.get(provider_id)

    def ids(self) -> list[str]:
        return list(self._providers)

    def items(self) -> list[tuple[str, ProviderSpec]]:
        return list(self._providers.items())


def _parse(raw: Any, source: str) -> dict[str, ProviderSpec]:
    if not isinstance(raw, dict) or not isinstance(raw.get("providers"), dict):
        raise CatalogError(f"{source}: top-level key 'providers' must map provider id to entry")
    parsed: dict[str, ProviderSpec] = {}
    for provider_id, entry in raw["providers"].items():
        if not isinstance(provider_id, str) or not _PROVIDER_ID.match(provider_id):
            raise CatalogError(f"{source}: provider id {provider_id!r} must match {_PROVIDER_ID.pattern}")
        try:
            spec = ProviderSpec.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise CatalogError(f"{source}: provider {provider_id!r} field {field!r}: {first['msg']}") from None
        for field, name, allowed in unknown_references(spec):
            raise CatalogError(
                f"{source}: provider {provider_id!r} field {field!r}: placeholder {{{name}}} names nothing "
                f"this entry declares there (allowed: {', '.join(sorted(allowed)) or 'none'})"
            )
        parsed[provider_id] = spec
    return parsed


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (a duplicated provider id
    would otherwise silently replace the first entry)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from None


def load_catalog(operator_file: Path | None = None) -> Catalog:
    """The built-in catalog merged with the operator file, validated."""
    builtin = resources.files("connector_service.catalog").joinpath("providers.yaml").read_text()
    providers = _parse(_read_yaml(builtin, "providers.yaml"), "providers.yaml")
    if operator_file is not None:
        try:
            text = Path(operator_file).read_text()
        except OSError as exc:
            raise CatalogError(f"UCF_PROVIDERS_FILE {operator_file}: cannot read: {exc.strerror}") from None
        providers.update(_parse(_read_yaml(text, str(operator_file)), str(operator_file)))
    return Catalog(providers)
