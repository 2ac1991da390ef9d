"""The browser end of OAuth2 onboarding: the provider redirects here, the
connector service finishes the exchange (the single-use state names the
tenant, connector and workspace, so no API key is needed), and the browser is
sent on to the return URL given at connect time.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response
from ucf.connector.v1 import connectors_pb2 as pb
from ucf_common.errors import UcfError

from gateway.deps import Rpc
from gateway.envelope import ok
from gateway.schemas import reply

router = APIRouter(tags=["onboarding"])

# The URL that reached us holds an authorization code: `RequestEdge` keeps every answer out of
# caches and Referer headers (no-store, no-referrer). Redirect targets are the return URL given at
# connect time, never built from the request's Host.


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to the query string it already has."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


@router.get(
    "/oauth/callback",
    responses={
        **reply(pb.CompleteOAuthRedirectResponse.DESCRIPTOR, 200, "Done, and no return URL was given"),
        303: {"description": "Redirect to the return URL with connectionId and status, or error and errorDescription"},
    },
)
async def oauth_callback(
    rpc: Rpc, code: str = "", state: str = "", iss: str = "", error: str = "", error_description: str = ""
) -> Response:
    """Errors that the connector service tags with a `returnUrl` detail are redirected there too."""
    request = pb.CompleteOAuthRedirectRequest(
        code=code, state=state, iss=iss, error=error, error_description=error_description
    )
    try:
        answer = await rpc(rpc.stubs.connectors.CompleteOAuthRedirect, request, upstream=True)
    except UcfError as failed:
        return_url = failed.details.get("returnUrl")
        if not isinstance(return_url, str) or not return_url:
            raise
        target = with_query(return_url, {"error": failed.code.wire, "errorDescription": failed.message})
        return RedirectResponse(target, status_code=303)
    if not answer.return_url:
        return ok(answer)
    target = with_query(
        answer.return_url,
        {"connectionId": answer.connection_id, "connectorId": answer.connector_id, "status": answer.status},
    )
    return RedirectResponse(target, status_code=303)
