"""Which `{placeholder}` a catalog entry may use where, checked once at load.

A placeholder is filled when a request is made, from what exists at that moment:

- `authorization_url` and `token_url`: only the connect parameters (no credential yet);
- `revocation_url` and `connection_metadata.url`: those plus the kept token-response fields;
- everything a credential of one auth mode is used with (its base URL, request auth, extra
  headers and verification): the connect parameters, that mode's built-ins
  (`access_token` and the kept token/connection metadata for OAuth2; `api_key`, `api_secret`
  for an API key; the form's fields for basic and credentials) and nothing else.

A name outside these sets would fail at run time for every user, so the loader refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connector_service.catalog.templates import placeholders

if TYPE_CHECKING:
    from connector_service.catalog.providers import ProviderSpec, RequestAuthSpec, VerificationSpec

#: (field path, placeholder name, names allowed there)
Problem = tuple[str, str, frozenset[str]]


def mode_names(spec: ProviderSpec, mode: str) -> frozenset[str]:
    """The placeholders a template used with a credential of `mode` may name."""
    names = {p.name for p in spec.connect_params}
    if mode == "oauth2":
        names |= {"access_token", *spec.token_response_metadata}
        if spec.connection_metadata is not None:
            names |= set(spec.connection_metadata.fields)
    elif mode == "api_key":
        names |= {"api_key", "access_token", *(f.name for f in spec.form_fields("api_key"))}
    else:
        names |= {f.name for f in spec.form_fields(mode)}
        if mode == "basic":
            names.add("basic_auth")
    return frozenset(names)


def unknown_references(spec: ProviderSpec) -> Iterator[Problem]:
    """Every placeholder that names nothing the entry declares, with where it is."""
    connect = frozenset(p.name for p in spec.connect_params)
    token_facts = connect | set(spec.token_response_metadata)
    for name in ("authorization_url", "token_url"):
        yield from _check(name, getattr(spec, name), connect)
    yield from _check("revocation_url", spec.revocation_url, token_facts)
    if spec.connection_metadata is not None:
        yield from _check("connection_metadata.url", spec.connection_metadata.url, token_facts)
    seen: set[tuple[str, str, str]] = set()
    for mode in spec.auth_modes:
        allowed = mode_names(spec, mode)
        for path, template in _mode_templates(spec, mode):
            for problem in _check(path, template, allowed):
                if problem[:2] + (mode,) not in seen:
                    seen.add(problem[:2] + (mode,))
                    yield (f"{problem[0]} (auth mode {mode})", problem[1], problem[2])


def _check(path: str, template: str | None, allowed: frozenset[str]) -> Iterator[Problem]:
    for name in placeholders(template or ""):
        if name not in allowed:
            yield (path, name, allowed)


def _mode_templates(spec: ProviderSpec, mode: str) -> Iterator[tuple[str, str | None]]:
    prefix = f"modes.{mode}." if mode in spec.modes else ""
    override = spec.mode_override(mode)
    yield (prefix if override and override.base_url else "") + "base_url", spec.base_url_for(mode)
    for header, value in spec.headers_for(mode).items():
        yield f"headers.{header}", value
    auth = spec.request_auth_for(mode)
    if auth is not None:
        where = (prefix if override and override.request_auth else "") + "request_auth"
        yield from _auth_templates(where, auth)
    verification = spec.verification_for(mode)
    if verification is not None:
        where = (prefix if override and override.verification else "") + "verification"
        yield from _verification_templates(where, verification)


def _auth_templates(where: str, auth: RequestAuthSpec) -> Iterator[tuple[str, str | None]]:
    for part in ("value", "username", "password"):
        yield f"{where}.{part}", getattr(auth, part)


def _verification_templates(where: str, verification: VerificationSpec) -> Iterator[tuple[str, str | None]]:
    yield f"{where}.url", verification.url
    for header, value in verification.headers.items():
        yield f"{where}.headers.{header}", value
    if verification.basic_auth is not None:
        yield f"{where}.basic_auth.username", verification.basic_auth.username
        yield f"{where}.basic_auth.password", verification.basic_auth.password
