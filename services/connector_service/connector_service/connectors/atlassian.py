"""How Jira and Confluence reach a site: OAuth through the API gateway, API tokens against the site.

OAuth 2.0 (3LO) tokens only work through `https://api.atlassian.com/ex/<product>/<cloudId>`
(the catalog's base_url, cloud id from the connection metadata); API tokens use
basic auth `email:token` directly against the site URL. Links shown to users
(browse URLs, page URLs) always point at the site.
"""

from __future__ import annotations

from ucf_common.errors import ErrorCode, UcfError

from connector_service.catalog.providers import RequestAuthSpec
from connector_service.connectors.auth import BasicCredential, OAuth2Credential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import Upstream

API_GATEWAY = "https://api.atlassian.com"
#: An API token goes as Basic `email:api_token`, as the catalog's `modes.basic.request_auth` says.
API_TOKEN_AUTH = RequestAuthSpec(type="basic", username="{email}", password="{api_token}")


def _missing(ctx: ConnectorContext, what: str) -> UcfError:
    return UcfError(ErrorCode.FAILED_PRECONDITION, f"{ctx.connector_id} connection has no {what}")


def site_url(ctx: ConnectorContext) -> str:
    """The site users browse (https://<name>.atlassian.net), "" when unknown."""
    return str(ctx.setting("site_url", "site", "url") or "").rstrip("/")


def atlassian_upstream(ctx: ConnectorContext, product: str) -> Upstream:
    """An `Upstream` for `product` ("jira" or "confluence") with the connection's auth."""
    headers = {"Accept": "application/json"}
    match ctx.credential:
        case OAuth2Credential() as oauth if oauth.access_token:
            cloud_id = ctx.setting("cloud_id", "cloudId")
            if not cloud_id:
                raise _missing(ctx, "Atlassian cloud id")
            base = f"{(ctx.base_url or API_GATEWAY).rstrip('/')}/ex/{product}/{cloud_id}"
            return Upstream(ctx, ctx.connector_id, base, {**headers, **oauth.request_auth().headers})
        case BasicCredential() as form:
            try:
                auth = form.request_auth(API_TOKEN_AUTH)
            except KeyError:
                raise _missing(ctx, "access token or email and API token") from None
            site = site_url(ctx)
            if not site:
                raise _missing(ctx, "site URL")
            return Upstream(ctx, ctx.connector_id, site, {**headers, **auth.headers})
    raise _missing(ctx, "access token or email and API token")


def granted_scopes(ctx: ConnectorContext) -> tuple[str, ...]:
    """Scopes the token response granted (space separated), empty for API tokens."""
    return ctx.credential.scopes if isinstance(ctx.credential, OAuth2Credential) else ()


def uses_oauth(ctx: ConnectorContext) -> bool:
    """Whether the connection holds an OAuth 2.0 token (webhooks need one)."""
    return isinstance(ctx.credential, OAuth2Credential) and bool(ctx.credential.access_token)
