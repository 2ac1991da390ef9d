"""The syntax of a host or URL a tenant chooses: an Atlassian site, a webhook `callbackUrl`,
a provider instance URL, a PostgreSQL host.

Where a host may connect is `egress`'s business, judged on the addresses really dialled;
this module makes sure the text names one host, spelled one way, before anything reads it.
Parsers disagree on odd spellings, and an SSRF guard that reads a host differently from the
HTTP client that dials it can be walked past, so the odd spellings are refused, each with
a message saying what to write instead (`invalid_request` naming the field):

- numeric IPv4 hosts other than four decimal numbers (`0177.0.0.1`, `0x7f.1`, `2130706433`,
  `127.1`): resolvers read them as octal, hex or packed numbers;
- a user name or password (`https://good.example@127.0.0.1/`): the host is what follows `@`;
- backslashes, whitespace and control characters anywhere (browsers and some parsers drop or
  reinterpret them), percent signs in the host, IPv6 zone ids;
- schemes other than http(s), a missing host, a port outside 1-65535.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
from ucf_common.errors import UcfError, invalid

_MAX_URL = 2000
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NUMERIC_HINT = "numeric hosts must be written as four decimal numbers, such as 203.0.113.7"


def http_url(value: Any, field: str) -> SplitResult:
    """`value` split, when it is an absolute http(s) URL naming one host in one spelling;
    `invalid_request` naming `field` otherwise. Surrounding whitespace is ignored."""
    example = f"{field} must be an absolute http(s) URL such as https://example.atlassian.net"
    if not isinstance(value, str) or not value.strip():
        raise invalid(example, field=field)
    text = value.strip()
    if len(text) > _MAX_URL:
        raise invalid(f"{field} must be at most {_MAX_URL} characters", field=field)
    if "\\" in text or any(not ch.isprintable() or ch.isspace() for ch in text):
        raise invalid(f"{field} must not contain spaces, control characters or backslashes", field=field)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise invalid(example, field=field) from None
    if parts.scheme.lower() not in ("http", "https") or not text[len(parts.scheme) + 1 :].startswith("//"):
        raise invalid(example, field=field)
    if "@" in parts.netloc:
        raise invalid(f"{field} must not contain a user name or password", field=field)
    host, port = _split_netloc(parts.netloc, field)
    _check_host(host, field)
    if port is not None and not (port.isdigit() and 0 < int(port) <= 65535):
        raise invalid(f"{field} has a port that is not a number from 1 to 65535", field=field)
    try:
        httpx.URL(text)
    except httpx.InvalidURL:
        raise invalid(example, field=field) from None
    return parts


def host(value: Any, field: str) -> str:
    """A bare host name or IP address (no port, no URL), in one spelling; `invalid_request`
    naming `field` otherwise. IPv6 may be written with or without brackets."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise invalid(f"{field} is required", field=field)
    if any(not ch.isprintable() or ch.isspace() for ch in text) or "\\" in text:
        raise invalid(f"{field} must not contain spaces, control characters or backslashes", field=field)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        _check_ipv6(text, field)
        return text
    if ":" in text:
        if text.count(":") == 1:
            raise invalid(f"{field} must be a host name or IP address, without a port", field=field)
        _check_ipv6(text, field)
        return text
    _check_host(text, field)
    return text


def _split_netloc(netloc: str, field: str) -> tuple[str, str | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise invalid(f"{field} has an unclosed [IPv6] host", field=field)
        _check_ipv6(netloc[1:end], field)
        rest = netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise invalid(f"{field} has text after its [IPv6] host", field=field)
        return netloc[: end + 1], rest[1:] if rest else None
    name, colon, port = netloc.partition(":")
    return name, port if colon else None


def _check_ipv6(text: str, field: str) -> None:
    try:
        if "%" in text:
            raise ValueError
        ipaddress.IPv6Address(text)
    except ValueError:
        raise invalid(
            f"{field} has an IPv6 address that is not valid (zone ids are not accepted)", field=field
        ) from None


def _check_host(name: str, field: str) -> None:
    """A DNS name or a dotted-quad IPv4 address; `[IPv6]` was checked when split."""
    if name.startswith("["):
        return
    if not name:
        raise invalid(f"{field} must name a host", field=field)
    if "%" in name:
        raise invalid(f"{field} must not contain percent signs in its host", field=field)
    labels = name.lower().removesuffix(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        try:
            canonical = str(ipaddress.IPv4Address(name))
        except ValueError:
            canonical = ""
        if canonical != name:
            raise invalid(f"{field}: {_NUMERIC_HINT}", field=field)
        return
    try:
        ascii_labels = name.lower().removesuffix(".").encode("idna").decode("ascii").split(".")
    except UnicodeError:
        raise invalid(f"{field} has a host name that is not valid", field=field) from None
    if len(name) > 253 or not all(_LABEL.match(label) for label in ascii_labels):
        raise invalid(f"{field} has a host name that is not valid", field=field)


def unusable_url(field: str = "", subject: str = "") -> UcfError:
    """The answer when the HTTP client itself refuses a URL (`httpx.InvalidURL`,
    `UnsupportedProtocol`): a URL someone chose, so `invalid_request`, never a crash."""
    name = subject or field or "the URL"
    return invalid(f"{name} is not an http(s) URL the service can use", **({"field": field} if field else {}))
