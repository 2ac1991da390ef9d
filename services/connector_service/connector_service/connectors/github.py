"""GitHub: repositories, issues (pull requests left out), issue comments, create, webhooks.

Works with a personal access token (`ApiKeyCredential`) or an OAuth app token
(`OAuth2Credential`), both sent as bearer. Lists follow the `Link` header;
`updatedSince` is the issues API's `since` (issues updated at or after).
The issues endpoint also returns pull requests; listings drop them (a page
can be shorter than the limit), `get_item` flags one with `pullRequest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.auth import ApiKeyCredential, OAuth2Credential
from connector_service.connectors.base import (
    Capability,
    Connector,
    ProbeResult,
    WebhookEvent,
    WebhookRegistration,
)
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import Upstream, segment
from connector_service.connectors.models import (
    Body,
    Comment,
    Container,
    Item,
    ItemDraft,
    Person,
    parse_time,
)
from connector_service.connectors.paging import LinkPaging, Page, fetch_page

API_BASE = "https://api.github.com"
API_VERSION = "2022-11-28"
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def _api(ctx: ConnectorContext) -> Upstream:
    match ctx.credential:
        case OAuth2Credential(access_token=token) | ApiKeyCredential(api_key=token) if token:
            auth = ctx.credential.request_auth()  # bearer, for a token and a PAT alike
        case _:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, "github connection has no token")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, **auth.headers}
    return Upstream(ctx, "github", ctx.base_url or API_BASE, headers)


def _repo(container_id: str) -> str:
    """`/repos/{owner}/{repo}` for an "owner/repo" container id."""
    if not _REPO.match(container_id or ""):
        raise UcfError(
            ErrorCode.INVALID_REQUEST, "containerId must be a repository as owner/name", {"field": "containerId"}
        )
    owner, name = container_id.split("/")
    return f"/repos/{segment(owner, 'containerId')}/{segment(name, 'containerId')}"


def _number(item_id: str) -> str:
    if not (item_id or "").isdigit():
        raise UcfError(ErrorCode.INVALID_REQUEST, "itemId must be an issue number", {"field": "itemId"})
    return item_id


def _person(user: Any) -> Person | None:
    if not isinstance(user, dict):
        return None
    return Person(id=str(user.get("id", "")), name=user.get("login", ""), email=user.get("email") or "")


class GitHubConnector(Connector):
    id = "github"
    display_name = "GitHub"
    capabilities = frozenset(
        {
            Capability.VALIDATE,
            Capability.PROBE,
            Capability.CONTAINERS,
            Capability.ITEMS,
            Capability.COMMENTS,
            Capability.CREATE_ITEM,
            Capability.CREATE_COMMENT,
            Capability.WEBHOOKS,
        }
    )

    paging = LinkPaging(size_param="per_page", max_size=100)

    async def validate(self, ctx: ConnectorContext) -> None:
        await _api(ctx).get("/user")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        response = await _api(ctx).request("GET", "/user")
        me = response.json()
        scopes = tuple(s.strip() for s in response.headers.get("x-oauth-scopes", "").split(",") if s.strip())
        instance = {
            "api": ctx.base_url or API_BASE,
            "apiVersion": API_VERSION,
            "user": me.get("login", ""),
            "name": me.get("name") or "",
            "rateLimitRemaining": response.headers.get("x-ratelimit-remaining", ""),
        }
        return ProbeResult(instance, tuple(sorted(c.value for c in self.capabilities)), scopes)

    async def list_containers(
        self, ctx: ConnectorContext, *, cursor: str | None, limit: int, parent_id: str | None = None
    ) -> Page[Container]:
        found, nxt = await fetch_page(
            _api(ctx),
            self.paging,
            "/user/repos",
            cursor=cursor,
            limit=limit,
            records="",
            params={"sort": "full_name", "direction": "asc"},
        )
        return Page(
            [
                Container(
                    id=r["full_name"],
                    name=r.get("name", ""),
                    key=r["full_name"],
                    type="repository",
                    url=r.get("html_url", ""),
                    parent_id=(r.get("owner") or {}).get("login", ""),
                    raw=r if ctx.extra_details else None,
                )
                for r in found
            ],
            nxt,
        )

    def _item(self, ctx: ConnectorContext, issue: dict[str, Any], container_id: str) -> Item:
        fields: dict[str, Any] = {
            "number": issue.get("number"),
            "comments": issue.get("comments", 0),
            "labels": [label.get("name", "") for label in issue.get("labels") or []],
        }
        if "pull_request" in issue:
            fields["pullRequest"] = True
        return Item(
            id=str(issue["number"]),
            container_id=container_id,
            title=issue.get("title") or "",
            body=Body(issue.get("body") or "", "markdown"),
            status=issue.get("state", ""),
            author=_person(issue.get("user")),
            assignees=tuple(p for p in map(_person, issue.get("assignees") or []) if p),
            created_at=parse_time(issue.get("created_at")),
            updated_at=parse_time(issue.get("updated_at")),
            url=issue.get("html_url", ""),
            fields=fields,
            raw=issue if ctx.extra_details else None,
        )

    async def list_items(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Item]:
        params = {"state": "all", "sort": "updated", "direction": "asc"}
        if updated_since is not None:
            params["since"] = updated_since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        found, nxt = await fetch_page(
            _api(ctx),
            self.paging,
            f"{_repo(container_id)}/issues",
            cursor=cursor,
            limit=limit,
            records="",
            params=params,
        )
        return Page([self._item(ctx, i, container_id) for i in found if "pull_request" not in i], nxt)

    async def get_item(self, ctx: ConnectorContext, container_id: str, item_id: str) -> Item:
        issue = await _api(ctx).get(f"{_repo(container_id)}/issues/{_number(item_id)}")
        return self._item(ctx, issue, container_id)

    async def list_comments(
        self, ctx: ConnectorContext, container_id: str, item_id: str, *, cursor: str | None, limit: int
    ) -> Page[Comment]:
        path = f"{_repo(container_id)}/issues/{_number(item_id)}/comments"
        found, nxt = await fetch_page(_api(ctx), self.paging, path, cursor=cursor, limit=limit, records="")
        return Page([self._comment(ctx, c, item_id) for c in found], nxt)

    def _comment(self, ctx: ConnectorContext, c: dict[str, Any], item_id: str) -> Comment:
        return Comment(
            id=str(c["id"]),
            item_id=item_id,
            author=_person(c.get("user")),
            body=Body(c.get("body") or "", "markdown"),
            created_at=parse_time(c.get("created_at")),
            updated_at=parse_time(c.get("updated_at")),
            raw=c if ctx.extra_details else None,
        )

    async def create_item(self, ctx: ConnectorContext, container_id: str, draft: ItemDraft) -> Item:
        if not draft.title:
            raise UcfError(ErrorCode.INVALID_REQUEST, "title is required", {"field": "title"})
        request: dict[str, Any] = {"title": draft.title, "body": draft.body.text}
        for key in ("labels", "assignees"):
            if draft.fields.get(key):
                request[key] = list(draft.fields[key])
        issue = await _api(ctx).post(f"{_repo(container_id)}/issues", request)
        return self._item(ctx, issue, container_id)

    async def create_comment(self, ctx: ConnectorContext, container_id: str, item_id: str, body: Body) -> Comment:
        if not body.text:
            raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is required", {"field": "body"})
        c = await _api(ctx).post(f"{_repo(container_id)}/issues/{_number(item_id)}/comments", {"body": body.text})
        return self._comment(ctx, c, item_id)

    async def register_webhook(
        self, ctx: ConnectorContext, container_id: str, callback_url: str, events: tuple[str, ...], secret: str
    ) -> WebhookRegistration:
        hook = await _api(ctx).post(
            f"{_repo(container_id)}/hooks",
            {
                "name": "web",
                "active": True,
                "events": list(events) or ["issues", "issue_comment"],
                "config": {"url": callback_url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
            },
        )
        return WebhookRegistration(upstream_id=str(hook["id"]), events=tuple(hook.get("events") or events))

    async def unregister_webhook(self, ctx: ConnectorContext, container_id: str, upstream_id: str) -> None:
        try:
            await _api(ctx).request("DELETE", f"{_repo(container_id)}/hooks/{_number(upstream_id)}")
        except UcfError as err:
            if err.code is not ErrorCode.NOT_FOUND:
                raise

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, compared in constant time."""
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("x-hub-signature-256", ""))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        payload = json.loads(body or b"{}")
        event = headers.get("x-github-event", "")
        action = payload.get("action")
        issue = payload.get("issue") or {}
        return WebhookEvent(
            delivery_id=headers.get("x-github-delivery", ""),
            kind=f"{event}.{action}" if action else event,
            container_id=(payload.get("repository") or {}).get("full_name", ""),
            item_id=str(issue.get("number", "")) if issue else "",
            payload=payload,
        )
