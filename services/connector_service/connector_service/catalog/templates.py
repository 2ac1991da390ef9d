"""`{name}` templates in catalog entries, and the URL rule every catalog URL follows.

A template's placeholders are filled from the credential, the connect parameters
and the connection's system metadata when a request is made; the catalog loader
checks at start that each placeholder names something the entry declares.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_SAMPLE_HOST_LABEL = "sample"


def placeholders(template: str) -> list[str]:
    """The names a template refers to, in order of appearance."""
    return PLACEHOLDER.findall(template)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Replaces `{name}` placeholders; a missing or empty value raises `KeyError(name)`."""

    def sub(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value in (None, ""):
            raise KeyError(match.group(1))
        return str(value)

    return PLACEHOLDER.sub(sub, template)


def lookup(answer: Any, path: str) -> Any:
    """The value at a dotted path into JSON objects and lists (`accounts.0.base_uri`),
    `KeyError(path)` when the path leads nowhere."""
    value = answer
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            raise KeyError(path)
    return value


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts plain http may name (development and tests)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(template: str) -> str | None:
    """Why a catalog URL template is unusable, None when it is fine.

    A template that starts with a placeholder (`{instance_url}/services/...`) takes its
    scheme and host from a value known only at run time (the egress policy checks it then);
    any other must be an absolute https URL, or http to a loopback host.
    """
    if any(ch.isspace() for ch in template):
        return "must not contain whitespace"
    if template.startswith("{"):
        return None
    try:
        parts = urlsplit(PLACEHOLDER.sub(_SAMPLE_HOST_LABEL, template))
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return "is not a well-formed URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an absolute https URL"
    if parts.scheme == "http" and not is_loopback(host):
        return "must use https (plain http only for loopback hosts)"
    if parts.fragment:
        return "must not have a #fragment"
    return None
