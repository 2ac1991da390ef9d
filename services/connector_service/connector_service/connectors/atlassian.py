"""How Jira and Confluence reach a site: OAuth through the API gateway, API tokens against the site.

OAuth 2.0 (3LO) tokens only work through `https://api.atlassian.com/ex/<product>/<cloudId>`
(the catalog's base_url, cloud id from the connection metadata); API tokens use
basic auth `email:token` directly against the site URL. Links shown to users
(browse URLs, page URLs) always point at the site.
"""

from __future__ import annotations

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import Upstream, basic, bearer

API_GATEWAY = "https://api.atlassian.com"


def _missing(ctx: ConnectorContext, what: str) -> UcfError:
    return UcfError(ErrorCode.FAILED_PRECONDITION, f"{ctx.connector_id} connection has no {what}")


def site_url(ctx: ConnectorContext) -> str:
    """The site users browse (https://<name>.atlassian.net), "" when unknown."""
    return str(ctx.setting("site_url", "site", "url") or "").rstrip("/")


def atlassian_upstream(ctx: ConnectorContext, product: str) -> Upstream:
    """An `Upstream` for `product` ("jira" or "confluence") with the connection's auth."""
    headers = {"Accept": "application/json"}
    token = ctx.credential.get("access_token")
    if token:
        cloud_id = ctx.setting("cloud_id", "cloudId")
        if not cloud_id:
            raise _missing(ctx, "Atlassian cloud id")
        base = f"{(ctx.base_url or API_GATEWAY).rstrip('/')}/ex/{product}/{cloud_id}"
        return Upstream(ctx, ctx.connector_id, base, {**headers, **bearer(token)})
    email = ctx.credential.get("email")
    api_token = ctx.credential.get("api_token") or ctx.credential.get("api_key")
    site = site_url(ctx)
    if not (email and api_token):
        raise _missing(ctx, "access token or email and API token")
    if not site:
        raise _missing(ctx, "site URL")
    return Upstream(ctx, ctx.connector_id, site, {**headers, **basic(email, api_token)})


def granted_scopes(ctx: ConnectorContext) -> tuple[str, ...]:
    """Scopes the token response granted (space separated), empty for API tokens."""
    scope = ctx.credential.get("scope") or ""
    return tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
