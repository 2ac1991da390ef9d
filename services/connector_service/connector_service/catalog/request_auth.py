"""Turning a catalog entry and a credential into an upstream request's auth and URL.

Pure functions, no I/O: the proxy calls them with a connection's typed credential and
system metadata (connect parameters included). A missing value raises `KeyError` naming
it; the caller reports it without echoing any value.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from connector_service.catalog.providers import ProviderSpec
from connector_service.catalog.templates import fill
from connector_service.connectors.auth import Credential, RequestAuth


def apply_request_auth(spec: ProviderSpec, credential: Credential, metadata: Mapping[str, Any]) -> RequestAuth:
    """The headers and query parameters that authenticate a request made with `credential`:
    the entry's placement for its mode (`Credential.request_auth`) plus the mode's extra
    headers, templates filled from the credential and the connection's `metadata`.
    `ValueError` when the mode has no way to be sent (a `credentials` entry without `request_auth`)."""
    values = credential.template_values(metadata)
    extra = {name: fill(value, values) for name, value in spec.headers_for(credential.kind).items()}
    placement = spec.request_auth_for(credential.kind)
    if placement is None:
        raise ValueError(f"the {credential.kind} credential of this provider cannot be sent on a request")
    auth = credential.request_auth(placement, metadata)
    return RequestAuth(headers={**extra, **auth.headers}, params=auth.params)


def upstream_url(spec: ProviderSpec, mode: str, values: Mapping[str, Any], path: str) -> str:
    """The URL a proxied `path` goes to: the mode's base URL filled in, with `path` joined
    under the base path. `ValueError` when the entry has no base URL, or when `path` is an
    absolute URL or climbs above the base (`../`, also percent-encoded), so a caller can
    never choose another host or leave the API's prefix."""
    template = spec.base_url_for(mode)
    if not template:
        raise ValueError("this provider has no base_url to proxy to")
    base = urlsplit(fill(template, values))
    decoded = unquote(path)
    if "://" in decoded or decoded.startswith("//") or "\\" in decoded:
        raise ValueError("the proxied path must be a path, not a URL")
    joined = posixpath.normpath(posixpath.join("/", decoded)) if decoded.strip("/") else "/"
    if ".." in decoded.split("/") or joined.startswith("//"):
        raise ValueError("the proxied path must not climb above the API base")
    prefix = base.path.rstrip("/")
    suffix = quote(joined, safe="/:@!$&'()*+,;=-._~") if joined != "/" else ""
    if path.endswith("/") and suffix and not suffix.endswith("/"):
        suffix += "/"
    return f"{base.scheme}://{base.netloc}{prefix}{suffix or ('/' if not prefix else '')}"
