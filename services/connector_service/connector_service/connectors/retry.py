"""When to retry an upstream call and how long to wait first.

Retries cover 429, 5xx and timeouts. A provider's `Retry-After` (delta seconds
or an HTTP date) and GitHub-style `x-ratelimit-reset` are honoured exactly;
without them the wait is capped exponential backoff with full jitter. A wait
longer than `max_wait` is not slept: the caller gets `rate_limited` with the
provider's figure in `retryAfter` instead of a hung request.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait, or None when it did not say."""
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError):
            return None
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(0.0, float(reset) - now)
    return None


def is_rate_limited(response: httpx.Response) -> bool:
    """429, or a 403 that only says the rate-limit window is spent (GitHub's primary limit)."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"


@dataclass(frozen=True)
class RetryPolicy:
    """Capped, jittered retries. `sleep` is injectable so tests can see the waits."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential delay before retry number `attempt` (1-based)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def should_retry(self, method: str, attempt: int, response: httpx.Response | None) -> bool:
        """Whether another attempt is allowed after `attempt` tries.

        A non-idempotent request (POST, PATCH) is only retried when the
        provider certainly did not act on it: 429, or no response at all
        because the connection could not be made (the caller decides that).
        """
        if attempt >= self.max_attempts:
            return False
        if response is None:
            return method.upper() in IDEMPOTENT_METHODS
        if is_rate_limited(response):
            return True
        return response.status_code in RETRYABLE_STATUSES and method.upper() in IDEMPOTENT_METHODS

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt; None when the provider asks for more than `max_wait`."""
        asked = retry_after_seconds(response) if response is not None else None
        if asked is None:
            return self.backoff(attempt)
        if asked > self.max_wait:
            return None
        return asked + random.uniform(0, min(1.0, asked * 0.1))
