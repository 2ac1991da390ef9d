"""Pagination strategies and the opaque cursors clients carry between pages.

A cursor handed to a client is base64url JSON of the strategy's own state
(an offset, a provider token, the query of a next link). Clients must treat
it as opaque; a tampered or foreign cursor is refused with invalid_request.

Each strategy answers two questions for a list endpoint: what to add to the
request for this page (`request`), and what state fetches the next one given
the provider's response (`advance`, None at the end). `fetch_page` composes a
strategy with an `Upstream` so connectors declare paging instead of looping.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.http import Upstream

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results. `next` None means there are no more pages; a page
    may hold fewer than `limit` entries (even none) and still have a `next`."""

    items: list[T]
    next: str | None = None


def encode_cursor(state: Mapping[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The state inside a cursor; None for no cursor (first page)."""
    if not cursor:
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        state = None
    if not isinstance(state, dict):
        raise UcfError(ErrorCode.INVALID_REQUEST, "cursor is not valid", {"field": "cursor"})
    return state


def _invalid_cursor() -> UcfError:
    return UcfError(ErrorCode.INVALID_REQUEST, "cursor is not valid", {"field": "cursor"})


def dig(body: Any, path: str) -> Any:
    """`body["a"]["b"]` for path "a.b", None when any step is missing."""
    for key in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


@dataclass(frozen=True)
class PageRequest:
    """What to send for one page: a path override (or None) and query parameters."""

    path: str | None
    params: dict[str, Any]


class OffsetPaging:
    """`startAt`/`maxResults`-style paging (Jira projects, Jira comments).

    The end is `isLast` when the provider sends it, else offset + count
    reaching `total`, else an empty page.
    """

    def __init__(self, offset_param: str = "startAt", size_param: str = "maxResults", max_size: int = 100):
        self.offset_param, self.size_param, self.max_size = offset_param, size_param, max_size

    def request(self, state: dict[str, Any] | None, limit: int) -> PageRequest:
        offset = (state or {}).get("o", 0)
        if not isinstance(offset, int) or offset < 0:
            raise _invalid_cursor()
        return PageRequest(None, {self.offset_param: offset, self.size_param: min(limit, self.max_size)})

    def advance(self, sent: PageRequest, response: httpx.Response, body: Any, count: int) -> dict[str, Any] | None:
        offset = sent.params[self.offset_param] + count
        if isinstance(body, dict) and body.get("isLast") is True:
            return None
        total = body.get("total") if isinstance(body, dict) else None
        if count == 0 or (isinstance(total, int) and offset >= total):
            return None
        return {"o": offset}


class TokenPaging:
    """Provider continuation token in the body (Jira's `nextPageToken`); absent or null = end."""

    def __init__(
        self,
        token_field: str = "nextPageToken",
        token_param: str = "nextPageToken",
        size_param: str = "maxResults",
        max_size: int = 100,
    ):
        self.token_field, self.token_param = token_field, token_param
        self.size_param, self.max_size = size_param, max_size

    def request(self, state: dict[str, Any] | None, limit: int) -> PageRequest:
        params: dict[str, Any] = {self.size_param: min(limit, self.max_size)}
        if state is not None:
            if not isinstance(state.get("t"), str):
                raise _invalid_cursor()
            params[self.token_param] = state["t"]
        return PageRequest(None, params)

    def advance(self, sent: PageRequest, response: httpx.Response, body: Any, count: int) -> dict[str, Any] | None:
        token = dig(body, self.token_field)
        if not token or dig(body, "isLast") is True:
            return None
        return {"t": token}


class LinkPaging:
    """Next link in the `Link` header (GitHub, Confluence) or a body field (`_links.next`).

    Only the next link's query is kept and replayed on the original path:
    providers sometimes link through another path for the same listing
    (GitHub's /repositories/{id}/issues) and a cursor must never carry a
    host or path a client could redirect.
    """

    def __init__(self, size_param: str, max_size: int, body_field: str | None = None):
        self.size_param, self.max_size, self.body_field = size_param, max_size, body_field

    def request(self, state: dict[str, Any] | None, limit: int) -> PageRequest:
        query = (state or {}).get("q", {})
        if not isinstance(query, dict):
            raise _invalid_cursor()
        return PageRequest(None, {self.size_param: min(limit, self.max_size), **query})

    def advance(self, sent: PageRequest, response: httpx.Response, body: Any, count: int) -> dict[str, Any] | None:
        link = response.links.get("next", {}).get("url")
        if not link and self.body_field:
            link = dig(body, self.body_field)
        if not link:
            return None
        query = {k: v for k, v in parse_qsl(urlsplit(link).query) if k != self.size_param}
        return {"q": query}


class NextUrlPaging:
    """A next-page URL in the body, replayed as given (Salesforce `nextRecordsUrl`).

    The URL must be a relative path under `prefix`. A provider batch may hold
    more rows than the client's limit, so the state also counts how many rows
    of that batch were already handed out (`s`).
    """

    def __init__(self, url_field: str, prefix: str):
        self.url_field, self.prefix = url_field, prefix

    def request(self, state: dict[str, Any] | None, limit: int) -> PageRequest:
        path = (state or {}).get("u")
        if path is None:
            return PageRequest(None, {})
        if not isinstance(path, str) or not path.startswith(self.prefix) or ".." in path:
            raise _invalid_cursor()
        return PageRequest(path, {})

    def advance(self, sent: PageRequest, response: httpx.Response, body: Any, count: int) -> dict[str, Any] | None:
        path = dig(body, self.url_field)
        return {"u": path} if path else None


Strategy = OffsetPaging | TokenPaging | LinkPaging | NextUrlPaging


async def fetch_page(
    api: Upstream,
    strategy: Strategy,
    path: str,
    *,
    cursor: str | None,
    limit: int,
    records: str,
    params: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of raw provider records and the cursor of the next page.

    `records` is the dotted path of the record list in the response body (""
    when the body is the list itself). With `body` the request is a POST and
    the paging parameters travel in the JSON body (Jira's search/jql).
    When the provider answers more records than `limit` (Salesforce batches
    hold at least 200), the rest are served by re-requesting the same page and
    skipping what was already returned (state key `s`).
    """
    state = decode_cursor(cursor)
    skip = (state or {}).get("s", 0)
    if not isinstance(skip, int) or skip < 0:
        raise _invalid_cursor()
    sent = strategy.request(state, limit)
    target = sent.path or path
    if body is not None:
        response = await api.request("POST", target, json={**body, **sent.params}, headers=headers)
    else:
        query = {**(params or {}), **sent.params} if sent.path is None else {}
        response = await api.request("GET", target, params=query, headers=headers)
    payload = response.json()
    found = (dig(payload, records) if records else payload) or []
    if not isinstance(found, list):
        raise UcfError(ErrorCode.UPSTREAM_ERROR, f"{api.provider} answered an unexpected page shape")
    if skip + limit < len(found):
        same = {k: v for k, v in (state or {}).items() if k != "s"}
        return found[skip : skip + limit], encode_cursor({**same, "s": skip + limit})
    following = strategy.advance(sent, response, payload, len(found))
    return found[skip:], encode_cursor(following) if following is not None else None
