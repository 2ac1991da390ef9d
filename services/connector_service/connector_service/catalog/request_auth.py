"""Turning a catalog entry and a credential into an upstream request's auth and URL.

Pure functions, no I/O: the proxy calls them with the values `template_values` gives
for a connection (credential, connect parameters, system metadata). A missing value
raises `KeyError` naming it; the caller reports it without echoing any value.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from connector_service.catalog.providers import ProviderSpec
from connector_service.catalog.templates import fill

_DEFAULT_VALUE = {"oauth2": "{access_token}", "api_key": "{api_key}"}


def apply_request_auth(
    spec: ProviderSpec, mode: str, values: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query parameters) that authenticate a request made with a credential of
    `mode`, the entry's extra headers included. `ValueError` when the mode has no way to be
    sent (a `credentials` entry without `request_auth`)."""
    headers = {name: fill(value, values) for name, value in spec.headers_for(mode).items()}
    query: dict[str, str] = {}
    auth = spec.request_auth_for(mode)
    if auth is None:
        raise ValueError(f"the {mode} credential of this provider cannot be sent on a request")
    if auth.type == "basic":
        pair = f"{fill(auth.username or '', values)}:{fill(auth.password or '', values)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return headers, query
    value = fill(auth.value or _DEFAULT_VALUE.get(mode, "{access_token}"), values)
    if auth.type == "bearer":
        headers["Authorization"] = f"Bearer {value}"
    elif auth.type == "header":
        headers[auth.name or ""] = value
    else:
        query[auth.name or ""] = value
    return headers, query


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
