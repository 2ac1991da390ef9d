"""Jira Cloud: projects, issues (enhanced JQL search), comments, create issue and comment.

Issues are read with `POST /rest/api/3/search/jql` and its `nextPageToken`
(the old `/rest/api/3/search` was removed). JQL compares dates in the
user's time zone at minute precision, so `updatedSince` widens the JQL bound
by the largest zone offset and then filters on the exact `updated` instant:
a page can therefore be shorter than the limit without being the last.

Webhooks are Jira's dynamic webhooks, which only OAuth 2.0 (3LO) apps may
register (`POST /rest/api/3/webhook` through the API gateway; API-token
connections get a 412 saying so). Each registration watches one project
(`jqlFilter` "project = <id or key>"), expires after 30 days unless
`PUT /rest/api/3/webhook/refresh` extends it, and its deliveries carry
`Authorization: Bearer <JWT>` signed HS256 with the app's OAuth client secret
(verified in constant time; the JWT does not cover the body). Deliveries name
the webhooks they match in `matchedWebhookIds` and their retries share the
`X-Atlassian-Webhook-Identifier` header.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.adf import adf_to_text, text_to_adf
from connector_service.connectors.atlassian import (
    atlassian_upstream,
    granted_scopes,
    site_url,
    uses_oauth,
)
from connector_service.connectors.base import (
    Capability,
    Connector,
    ProbeResult,
    WebhookEvent,
    WebhookRegistration,
    WebhookSecret,
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
from connector_service.connectors.paging import (
    OffsetPaging,
    Page,
    TokenPaging,
    fetch_page,
)

API = "/rest/api/3"
ISSUE_FIELDS = [
    "summary",
    "description",
    "status",
    "reporter",
    "creator",
    "assignee",
    "created",
    "updated",
    "issuetype",
    "priority",
    "labels",
    "project",
]
_JQL_ZONE_SLACK = dt.timedelta(hours=14, minutes=1)
#: Events Jira delivers to dynamic webhooks of OAuth 2.0 apps.
WEBHOOK_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
)
DEFAULT_WEBHOOK_EVENTS = WEBHOOK_EVENTS[:6]
#: Jira's documented lifetime of a dynamic webhook (used when it does not say).
WEBHOOK_LIFETIME = dt.timedelta(days=30)
_PROJECT_REF = re.compile(r"^(?:[0-9]{1,18}|[A-Za-z][A-Za-z0-9_]{0,254})$")
_WEBHOOKS_NEED_OAUTH = (
    "Jira registers dynamic webhooks only for OAuth 2.0 (3LO) apps and this connection uses "
    "{mode}; connect Jira with OAuth 2.0, or schedule sync jobs instead"
)


def _person(user: Any) -> Person | None:
    if not isinstance(user, dict):
        return None
    return Person(id=user.get("accountId", ""), name=user.get("displayName", ""), email=user.get("emailAddress", ""))


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _adf_body(body: Body) -> dict[str, Any]:
    """ADF for a request body: `format` "adf" means `text` is an ADF JSON document."""
    if body.format != "adf":
        return text_to_adf(body.text)
    try:
        doc = json.loads(body.text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is not an ADF document", {"field": "body"})
    return doc


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _expiry(value: Any) -> dt.datetime | None:
    """Jira's `expirationDate`: epoch milliseconds per the schema, an ISO string in the examples."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if isinstance(value, str) and value:
        return parse_time(value)
    return None


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased; "" for anything else."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") and parts.netloc else ""


def _webhook_id(upstream_id: str) -> int:
    if not (upstream_id or "").isdigit():
        raise UcfError(ErrorCode.INVALID_REQUEST, "not a Jira webhook id", {"field": "webhookId"})
    return int(upstream_id)


class JiraConnector(Connector):
    id = "jira"
    display_name = "Jira Cloud"
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
    webhook_secret = WebhookSecret.OAUTH_CLIENT
    webhook_url_per_app = True

    projects_paging = OffsetPaging(max_size=50)
    issues_paging = TokenPaging(max_size=100)
    comments_paging = OffsetPaging(max_size=100)

    async def validate(self, ctx: ConnectorContext) -> None:
        await atlassian_upstream(ctx, "jira").get(f"{API}/myself")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        api = atlassian_upstream(ctx, "jira")
        info = await api.get(f"{API}/serverInfo")
        me = await api.get(f"{API}/myself")
        instance = {
            "site": info.get("baseUrl") or site_url(ctx),
            "version": info.get("version", ""),
            "deploymentType": info.get("deploymentType", ""),
            "user": me.get("displayName", ""),
            "accountId": me.get("accountId", ""),
        }
        usable = self.capabilities if uses_oauth(ctx) else self.capabilities - {Capability.WEBHOOKS}
        return ProbeResult(instance, tuple(sorted(c.value for c in usable)), granted_scopes(ctx))

    async def list_containers(
        self, ctx: ConnectorContext, *, cursor: str | None, limit: int, parent_id: str | None = None
    ) -> Page[Container]:
        api = atlassian_upstream(ctx, "jira")
        found, nxt = await fetch_page(
            api,
            self.projects_paging,
            f"{API}/project/search",
            cursor=cursor,
            limit=limit,
            records="values",
            params={"orderBy": "key"},
        )
        site = site_url(ctx)
        return Page(
            [
                Container(
                    id=str(p["id"]),
                    name=p.get("name", ""),
                    key=p.get("key", ""),
                    type="project",
                    url=f"{site}/browse/{p.get('key', '')}" if site else "",
                    raw=p if ctx.extra_details else None,
                )
                for p in found
            ],
            nxt,
        )

    def _item(self, ctx: ConnectorContext, issue: dict[str, Any], container_id: str) -> Item:
        f = issue.get("fields") or {}
        site = site_url(ctx)
        assignee = _person(f.get("assignee"))
        extras = {
            "key": issue.get("key", ""),
            "issueType": (f.get("issuetype") or {}).get("name", ""),
            "priority": (f.get("priority") or {}).get("name", ""),
            "labels": f.get("labels") or [],
        }
        return Item(
            id=str(issue["id"]),
            container_id=str((f.get("project") or {}).get("id") or container_id),
            title=f.get("summary") or "",
            body=Body(adf_to_text(f.get("description")), "adf"),
            status=(f.get("status") or {}).get("name", ""),
            author=_person(f.get("reporter")) or _person(f.get("creator")),
            assignees=(assignee,) if assignee else (),
            created_at=parse_time(f.get("created")),
            updated_at=parse_time(f.get("updated")),
            url=f"{site}/browse/{issue.get('key', '')}" if site else "",
            fields=extras,
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
        if not container_id:
            raise UcfError(ErrorCode.INVALID_REQUEST, "containerId (a Jira project) is required")
        jql = f"project = {_jql_string(container_id)}"
        if updated_since is not None:
            bound = (updated_since.astimezone(dt.UTC) - _JQL_ZONE_SLACK).strftime("%Y/%m/%d %H:%M")
            jql += f' AND updated >= "{bound}"'
        body = {"jql": jql + " ORDER BY updated ASC, key ASC", "fields": ISSUE_FIELDS}
        found, nxt = await fetch_page(
            atlassian_upstream(ctx, "jira"),
            self.issues_paging,
            f"{API}/search/jql",
            cursor=cursor,
            limit=limit,
            records="issues",
            body=body,
        )
        items = [self._item(ctx, issue, container_id) for issue in found]
        if updated_since is not None:
            items = [i for i in items if i.updated_at is None or i.updated_at >= updated_since]
        return Page(items, nxt)

    async def get_item(self, ctx: ConnectorContext, container_id: str, item_id: str) -> Item:
        issue = await atlassian_upstream(ctx, "jira").get(
            f"{API}/issue/{segment(item_id, 'itemId')}", fields=",".join(ISSUE_FIELDS)
        )
        return self._item(ctx, issue, container_id)

    async def list_comments(
        self, ctx: ConnectorContext, container_id: str, item_id: str, *, cursor: str | None, limit: int
    ) -> Page[Comment]:
        path = f"{API}/issue/{segment(item_id, 'itemId')}/comment"
        found, nxt = await fetch_page(
            atlassian_upstream(ctx, "jira"),
            self.comments_paging,
            path,
            cursor=cursor,
            limit=limit,
            records="comments",
            params={"orderBy": "created"},
        )
        return Page([self._comment(ctx, c, item_id) for c in found], nxt)

    def _comment(self, ctx: ConnectorContext, c: dict[str, Any], item_id: str) -> Comment:
        return Comment(
            id=str(c["id"]),
            item_id=item_id,
            author=_person(c.get("author")),
            body=Body(adf_to_text(c.get("body")), "adf"),
            created_at=parse_time(c.get("created")),
            updated_at=parse_time(c.get("updated")),
            raw=c if ctx.extra_details else None,
        )

    async def create_item(self, ctx: ConnectorContext, container_id: str, draft: ItemDraft) -> Item:
        if not draft.title:
            raise UcfError(ErrorCode.INVALID_REQUEST, "title is required", {"field": "title"})
        issue_type = draft.fields.get("issueType") or "Task"
        fields: dict[str, Any] = {
            "project": {"id": container_id} if container_id.isdigit() else {"key": container_id},
            "summary": draft.title,
            "issuetype": {"name": issue_type},
        }
        if draft.body.text:
            fields["description"] = _adf_body(draft.body)
        if draft.fields.get("labels"):
            fields["labels"] = list(draft.fields["labels"])
        api = atlassian_upstream(ctx, "jira")
        created = await api.post(f"{API}/issue", {"fields": fields})
        return await self.get_item(ctx, container_id, str(created["id"]))

    async def create_comment(self, ctx: ConnectorContext, container_id: str, item_id: str, body: Body) -> Comment:
        if not body.text:
            raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is required", {"field": "body"})
        api = atlassian_upstream(ctx, "jira")
        c = await api.post(f"{API}/issue/{segment(item_id, 'itemId')}/comment", {"body": _adf_body(body)})
        return self._comment(ctx, c, item_id)

    # Dynamic webhooks (OAuth 2.0 apps only).

    def webhook_site(self, ctx: ConnectorContext) -> str:
        return _origin(site_url(ctx))

    def webhooks_unavailable(self, auth_mode: str) -> str | None:
        return None if auth_mode == "oauth2" else _WEBHOOKS_NEED_OAUTH.format(mode=auth_mode or "no OAuth token")

    def _webhook_api(self, ctx: ConnectorContext) -> Upstream:
        if not uses_oauth(ctx):
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION,
                _WEBHOOKS_NEED_OAUTH.format(mode="an API token"),
                {"capability": Capability.WEBHOOKS.value},
            )
        return atlassian_upstream(ctx, "jira")

    async def register_webhook(
        self, ctx: ConnectorContext, container_id: str, callback_url: str, events: tuple[str, ...], secret: str
    ) -> WebhookRegistration:
        """One dynamic webhook for the project. `secret` is unused: Jira signs with the app's client secret."""
        if not _PROJECT_REF.match(container_id or ""):
            raise UcfError(
                ErrorCode.INVALID_REQUEST, "containerId must be a Jira project id or key", {"field": "containerId"}
            )
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            raise UcfError(
                ErrorCode.INVALID_REQUEST,
                f"Jira webhooks cannot deliver {', '.join(unknown)}; supported: {', '.join(WEBHOOK_EVENTS)}",
                {"field": "events"},
            )
        wanted = list(events) or list(DEFAULT_WEBHOOK_EVENTS)
        api = self._webhook_api(ctx)
        answer = await api.post(
            f"{API}/webhook",
            {"url": callback_url, "webhooks": [{"events": wanted, "jqlFilter": f"project = {container_id}"}]},
        )
        results = answer.get("webhookRegistrationResult") if isinstance(answer, dict) else None
        result = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
        if result.get("createdWebhookId") is None:
            reasons = "; ".join(str(e) for e in result.get("errors") or []) or "no webhook id in the answer"
            raise UcfError(ErrorCode.FAILED_PRECONDITION, f"Jira refused the webhook: {reasons}", {"provider": "jira"})
        upstream_id = str(result["createdWebhookId"])
        expires_at = await self._upstream_expiry(api, upstream_id)
        return WebhookRegistration(
            upstream_id=upstream_id,
            events=tuple(wanted),
            expires_at=expires_at or dt.datetime.now(dt.UTC) + WEBHOOK_LIFETIME,
        )

    async def _upstream_expiry(self, api: Upstream, upstream_id: str) -> dt.datetime | None:
        """The expiry Jira lists for one of this app's webhooks (`GET /webhook`, paged by startAt)."""
        start = 0
        while True:
            page = await api.get(f"{API}/webhook", startAt=start, maxResults=100)
            values = page.get("values") or []
            for hook in values:
                if str(hook.get("id")) == upstream_id:
                    return _expiry(hook.get("expirationDate"))
            if page.get("isLast", True) or not values:
                return None
            start += len(values)

    async def unregister_webhook(self, ctx: ConnectorContext, container_id: str, upstream_id: str) -> None:
        # Jira ignores ids that are not (or no longer) this app's, so a removed webhook is not an error.
        await self._webhook_api(ctx).request(
            "DELETE", f"{API}/webhook", json={"webhookIds": [_webhook_id(upstream_id)]}
        )

    async def refresh_webhook(self, ctx: ConnectorContext, upstream_id: str) -> dt.datetime | None:
        response = await self._webhook_api(ctx).request(
            "PUT", f"{API}/webhook/refresh", json={"webhookIds": [_webhook_id(upstream_id)]}
        )
        body = response.json() if response.content else {}
        return _expiry(body.get("expirationDate") if isinstance(body, dict) else None) or (
            dt.datetime.now(dt.UTC) + WEBHOOK_LIFETIME
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """`Authorization: Bearer <JWT>`, HS256 with the OAuth client secret, compared in constant time;
        an `exp` claim in the past fails too."""
        value = headers.get("authorization", "")
        if not value[:7].lower() == "bearer " or not secret:
            return False
        parts = value[7:].strip().split(".")
        if len(parts) != 3:
            return False
        expected = base64.urlsafe_b64encode(
            hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        ).rstrip(b"=")
        if not hmac.compare_digest(expected, parts[2].encode("ascii", "replace")):
            return False
        try:
            header, claims = json.loads(_b64url(parts[0])), json.loads(_b64url(parts[1]))
        except (ValueError, binascii.Error):
            return False
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
            return False
        exp = claims.get("exp")
        if exp is not None and (not isinstance(exp, int | float) or isinstance(exp, bool) or exp < time.time()):
            return False
        return True

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """`webhookEvent` is the kind (jira:issue_created/updated/deleted, comment_created/updated/deleted);
        the container is the issue's project id, the item the issue id."""
        payload = json.loads(body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError("a Jira delivery is a JSON object")
        issue: dict[str, Any] = payload["issue"] if isinstance(payload.get("issue"), dict) else {}
        project = (issue.get("fields") or {}).get("project") or {}
        matched = payload.get("matchedWebhookIds")
        return WebhookEvent(
            delivery_id=headers.get("x-atlassian-webhook-identifier", ""),
            kind=str(payload.get("webhookEvent") or ""),
            container_id=str(project.get("id") or ""),
            item_id=str(issue.get("id") or ""),
            payload=payload,
            upstream_ids=tuple(str(i) for i in matched) if isinstance(matched, list) else (),
            site=_origin(str(issue.get("self") or "")),
        )
