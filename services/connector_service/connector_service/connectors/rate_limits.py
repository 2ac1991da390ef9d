"""A provider's own rate-limit headers, as its catalog entry declares them.

The catalog's optional `rate_limit:` block (`retry_after_header`,
`reset_header`, `reset_format` = `epoch_seconds` | `epoch_millis` |
`delta_seconds` | `http_date`, `statuses`) names where a provider says how
long to wait. `wait_seconds` reads it and falls back to the generic rules of
retry.py (`Retry-After`, GitHub's `x-ratelimit-reset`) for anything it does
not say. The block is read with getattr, so a ProviderSpec without it works.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connector_service.connectors.retry import is_rate_limited, retry_after_seconds


def _field(rule: Any, name: str) -> Any:
    if rule is None:
        return None
    return rule.get(name) if isinstance(rule, dict) else getattr(rule, name, None)


def _reset(value: str, fmt: str, now: float) -> float | None:
    value = value.strip()
    try:
        if fmt == "http_date":
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        number = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    if fmt == "delta_seconds":
        return max(0.0, number)
    if fmt == "epoch_millis":
        number /= 1000
    return max(0.0, number - now)


def wait_seconds(response: httpx.Response, rule: Any = None, now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait, or None when it did not say."""
    now = time.time() if now is None else now
    header = _field(rule, "retry_after_header")
    if header and response.headers.get(header):
        found = _reset(response.headers[header], "delta_seconds", now)
        if found is not None:
            return found
    header = _field(rule, "reset_header")
    if header and response.headers.get(header):
        found = _reset(response.headers[header], _field(rule, "reset_format") or "epoch_seconds", now)
        if found is not None:
            return found
    return retry_after_seconds(response, now)


def rate_limited(response: httpx.Response, rule: Any = None) -> bool:
    """The generic rule (429, GitHub's spent 403), or a status the catalog declares for the provider."""
    statuses = _field(rule, "statuses") or ()
    return is_rate_limited(response) or response.status_code in statuses
