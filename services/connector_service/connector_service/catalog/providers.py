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
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

AuthModeName = Literal["oauth2", "api_key", "basic", "credentials"]
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_URL = re.compile(r"^(https?://[^\s]+|\{[a-z_]+\}[^\s]*)$")


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


class MetadataRequestSpec(_Strict):
    """A GET made with the fresh access token after onboarding; `fields` maps a
    connection-metadata name to a key of the answer (its first element when it is a list)."""

    url: str = Field(pattern=_URL.pattern)
    fields: dict[str, str]


class BasicAuthSpec(_Strict):
    """HTTP Basic credentials built from templates (`{email}`, `{api_token}`...)."""

    username: str
    password: str


class VerificationSpec(_Strict):
    """How to prove a credential works: an HTTP GET that must answer 2xx, or a database check."""

    kind: Literal["http", "postgres"] = "http"
    url: str | None = Field(None, pattern=_URL.pattern)
    headers: dict[str, str] = {}
    #: Sent as `Authorization: Basic base64(username:password)` after filling the templates.
    basic_auth: BasicAuthSpec | None = None

    @model_validator(mode="after")
    def _http_needs_url(self) -> VerificationSpec:
        if self.kind == "http" and not self.url:
            raise ValueError("an http verification needs a url")
        return self


class AuthModeSpec(_Strict):
    """What one auth mode asks for when it differs from the entry's top level
    (Atlassian: OAuth2 through the API gateway, or an API token checked on the site)."""

    credential_fields: list[CredentialFieldSpec] = []
    verification: VerificationSpec | None = None


class ProviderSpec(_Strict):
    display_name: str = Field(min_length=1)
    auth_mode: AuthModeName
    extra_auth_modes: list[AuthModeName] = []
    docs_url: str | None = None
    authorization_url: str | None = Field(None, pattern=_URL.pattern)
    token_url: str | None = Field(None, pattern=_URL.pattern)
    revocation_url: str | None = Field(None, pattern=_URL.pattern)
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
    base_url: str | None = Field(None, pattern=_URL.pattern)
    connection_metadata: MetadataRequestSpec | None = None
    verification: VerificationSpec | None = None
    credential_fields: list[CredentialFieldSpec] = []
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

    def _fields_of(self, mode: str) -> list[CredentialFieldSpec]:
        override = self.modes.get(mode)  # type: ignore[call-overload]
        return list(override.credential_fields if override and override.credential_fields else self.credential_fields)

    @property
    def auth_modes(self) -> list[str]:
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
        override = self.modes.get(mode)  # type: ignore[call-overload]
        return override.verification if override and override.verification else self.verification


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
            parsed[provider_id] = ProviderSpec.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise CatalogError(f"{source}: provider {provider_id!r} field {field!r}: {first['msg']}") from None
    return parsed


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
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
