"""The hosted Connect page: server-rendered (Jinja2, autoescaped) with a little vanilla JS.

`GET /connect?session=<token>[&origin=<opener origin>]` checks the session, keeps the token
in an HttpOnly, SameSite=Lax cookie scoped to `/connect` (so it leaves the address bar and
history at once) and redirects to `/connect`. Every later step calls the connector service
with `authorization: Bearer <session token>`; the service limits that principal to the
session's tenant, workspace and connectors. OAuth2 starts with a GET (the provider's page is
a navigation, not a form submission, so `form-action 'self'` holds) and comes back through
`/api/oauth/callback` to `/connect/done`. Credential forms POST to the page itself and show
the provider's refusal inline. With an allowed opener origin the result goes to the opener
by `postMessage` (that origin only); with a `returnUrl` the browser is sent there.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from starlette.responses import FileResponse, RedirectResponse, Response
from ucf.connector.v1 import connect_pb2, connectors_pb2
from ucf_common.errors import ErrorCode, UcfError

from gateway.deps import caller_for
from gateway.edge import CONNECT_CSP
from gateway.routes.oauth import with_query
from gateway.rpc import Caller

HERE = Path(__file__).parent
COOKIE, ORIGIN_COOKIE = "ucf_connect", "ucf_connect_origin"
DEFAULT_PRIMARY = "#1e5aa8"  # Ocean Professional: blue with amber accents
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_STATIC = {"connect.css": "text/css", "page.js": "text/javascript", "connect.js": "text/javascript"}

# Autoescaping on for every template: every end-user string (display name, tenant name, errors) is text.
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True))
router = APIRouter(prefix="/connect", include_in_schema=False)


def _caller(request: Request, token: str) -> Caller:
    headers = [(b"authorization", f"Bearer {token}".encode())]
    return caller_for(request.app.state.runtime, headers, request.scope.get("client"))


def _csp(logo_url: str) -> str:
    """The Connect page policy, plus the tenant logo's https origin in img-src."""
    policy = CONNECT_CSP.decode()
    parts = urlsplit(logo_url) if logo_url.startswith("https://") else None
    if parts and parts.netloc and re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", parts.netloc):
        policy = policy.replace("img-src 'self' data:", f"img-src 'self' data: https://{parts.netloc}")
    return policy


def _render(request: Request, name: str, status: int = 200, tenant: Any = None, **context: Any) -> Response:
    color = tenant.primary_color if tenant is not None and _COLOR.match(tenant.primary_color or "") else ""
    response = templates.TemplateResponse(
        request,
        name,
        {"tenant": tenant, "primary": (color or DEFAULT_PRIMARY).lstrip("#"), **context},
        status_code=status,
    )
    response.headers["content-security-policy"] = _csp(tenant.logo_url if tenant is not None else "")
    return response


def _problem(request: Request, err: UcfError, tenant: Any = None) -> Response:
    if err.code is ErrorCode.UNAUTHENTICATED:
        title, text, status = "This link has expired", "Go back to the app and start connecting again.", 401
    elif err.code is ErrorCode.FORBIDDEN:
        title, text, status = "Not allowed", err.message, 403
    else:
        title, text, status = "Something went wrong", err.message, 400 if err.code.http_status < 500 else 502
    return _render(request, "error.html", status, tenant, title=title, text=text)


async def _session(request: Request) -> tuple[Caller, connect_pb2.GetConnectSessionResponse]:
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise UcfError(ErrorCode.UNAUTHENTICATED, "no connect session")
    rpc = _caller(request, token)
    info = await rpc(rpc.stubs.connect_sessions.GetConnectSession, connect_pb2.GetConnectSessionRequest())
    return rpc, info


@router.get("/connect.js")
async def embed_script() -> Response:
    return FileResponse(HERE / "static" / "connect.js", media_type="text/javascript")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC:
        raise UcfError(ErrorCode.NOT_FOUND, "no such file")
    return FileResponse(HERE / "static" / name, media_type=_STATIC[name])


@router.get("/theme.css")
async def theme(primary: str = "") -> Response:
    color = f"#{primary}" if _COLOR.match(f"#{primary}") else DEFAULT_PRIMARY
    return Response(f":root {{ --primary: {color}; }}\n", media_type="text/css")


@router.get("/logos/{connector_id}.svg")
async def logo(connector_id: str) -> Response:
    """A generated initials badge: no third-party logo is fetched."""
    initials = "".join(ch for ch in connector_id.upper() if ch.isalnum())[:2] or "?"
    hue = sum(map(ord, connector_id)) % 360
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40" aria-hidden="true">'
        f'<rect width="40" height="40" rx="8" fill="hsl({hue},55%,38%)"/>'
        '<text x="20" y="26" font-family="sans-serif" font-size="16" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{initials}</text></svg>'
    )
    return Response(svg, media_type="image/svg+xml")


@router.get("")
async def page(request: Request, session: str = "", origin: str = "") -> Response:
    if session:
        return await _enter(request, session, origin)
    try:
        rpc, info = await _session(request)
        listed = await rpc(rpc.stubs.connectors.ListConnectors, connectors_pb2.ListConnectorsRequest())
    except UcfError as err:
        return _problem(request, err)
    # A connector with connect params (Okta domain) first shows their form, then starts OAuth.
    oauth = {c.id for c in listed.items if connectors_pb2.AUTH_MODE_OAUTH2 in c.auth_modes and not c.connect_params}
    return _render(
        request, "connectors.html", tenant=info.tenant, session=info.session, connectors=listed.items, oauth=oauth
    )


async def _enter(request: Request, token: str, origin: str) -> Response:
    rpc = _caller(request, token)
    try:
        info = await rpc(
            rpc.stubs.connect_sessions.GetConnectSession, connect_pb2.GetConnectSessionRequest(embed_origin=origin)
        )
    except UcfError as err:
        return _problem(request, err)
    response = RedirectResponse("/connect", status_code=303)
    secure = request.url.scheme == "https"
    max_age = max(60, info.session.expires_at.seconds - int(time.time()))
    response.set_cookie(COOKIE, token, max_age=max_age, path="/connect", httponly=True, samesite="lax", secure=secure)
    if info.embed_origin_allowed:
        response.set_cookie(
            ORIGIN_COOKIE, origin, max_age=max_age, path="/connect", httponly=True, samesite="lax", secure=secure
        )
    else:
        response.delete_cookie(ORIGIN_COOKIE, path="/connect")
    return response


@router.get("/done")
async def done(
    request: Request,
    connectionId: str = "",
    connectorId: str = "",
    status: str = "",
    error: str = "",
    errorDescription: str = "",
) -> Response:
    try:
        _, info = await _session(request)
    except UcfError as err:
        return _problem(request, err)
    result = {"connectionId": connectionId, "connectorId": connectorId, "status": status}
    if error or not connectionId:
        result = {"error": error or "unknown", "errorDescription": errorDescription or "the connection was not made"}
    return_to = ""
    if info.session.return_url:
        return_to = with_query(info.session.return_url, {k: v for k, v in result.items() if v})
    return _render(
        request,
        "done.html",
        200 if "connectionId" in result else 400,
        info.tenant,
        result=result,
        return_to=return_to,
        opener_origin=request.cookies.get(ORIGIN_COOKIE, ""),
    )


PARAM_PREFIX = "connect."


def _connect_params(form: dict[str, str], connector: Any) -> dict[str, str]:
    """The connect-param inputs (`connect.<name>`) the page's form sent, non-empty ones only."""
    names = {p.name for p in connector.connect_params}
    given = {k.removeprefix(PARAM_PREFIX): v.strip() for k, v in form.items() if k.startswith(PARAM_PREFIX)}
    return {k: v for k, v in given.items() if k in names and v}


@router.get("/{connector_id}/start")
async def start_oauth(request: Request, connector_id: str) -> Response:
    params = {k: v for k, v in request.query_params.items() if k.startswith(PARAM_PREFIX)}
    if not params:
        try:
            rpc, info = await _session(request)
            answer = await rpc(
                rpc.stubs.connectors.Connect, connectors_pb2.ConnectRequest(connector_id=connector_id, method="oauth2")
            )
        except UcfError as err:
            return _problem(request, err)
        return RedirectResponse(answer.auth_url, status_code=303)
    # From the connect-params form: checked by the service, refused inline. The provider's page is
    # then reached by a link (and page.js), not as the form's redirect, so form-action 'self' holds.
    try:
        rpc, (info, connector), _ = await _form(request, connector_id)
    except UcfError as err:
        return _problem(request, err)
    values = _connect_params(params, connector)
    try:
        answer = await rpc(
            rpc.stubs.connectors.Connect,
            connectors_pb2.ConnectRequest(connector_id=connector_id, method="oauth2", connect_params=values),
        )
    except UcfError as err:
        if err.code in (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
            return _problem(request, err, info.tenant)
        return _render(
            request,
            "form.html",
            400,
            info.tenant,
            connector=connector,
            fields=[],
            oauth_start=True,
            error=err.message,
            bad=PARAM_PREFIX + str(err.details.get("field", "")).removeprefix("connectParams."),
            values={PARAM_PREFIX + k: v for k, v in values.items()},
        )
    return _render(request, "continue.html", tenant=info.tenant, connector=connector, auth_url=answer.auth_url)


async def _form(request: Request, connector_id: str) -> tuple[Caller, Any, connectors_pb2.ConnectResponse]:
    rpc, info = await _session(request)
    listed = await rpc(rpc.stubs.connectors.ListConnectors, connectors_pb2.ListConnectorsRequest())
    connector = next((c for c in listed.items if c.id == connector_id), None)
    if connector is None:
        raise UcfError(ErrorCode.FORBIDDEN, "this connect session does not allow that connector")
    modes = [connectors_pb2.AuthMode.Name(m).removeprefix("AUTH_MODE_").lower() for m in connector.auth_modes]
    method = next((m for m in modes if m != "oauth2"), "oauth2")
    if method == "oauth2" and connector.connect_params:  # their form comes first; Connect needs them
        return rpc, (info, connector), connectors_pb2.ConnectResponse(method="oauth2")
    answer = await rpc(
        rpc.stubs.connectors.Connect, connectors_pb2.ConnectRequest(connector_id=connector_id, method=method)
    )
    return rpc, (info, connector), answer


@router.get("/{connector_id}")
async def credential_form(request: Request, connector_id: str) -> Response:
    try:
        _, (info, connector), answer = await _form(request, connector_id)
    except UcfError as err:
        return _problem(request, err)
    if answer.method == "oauth2" and not connector.connect_params:
        return RedirectResponse(f"/connect/{quote(connector_id, safe='')}/start", status_code=303)
    return _render(
        request,
        "form.html",
        tenant=info.tenant,
        connector=connector,
        fields=[] if answer.method == "oauth2" else answer.fields,
        oauth_start=answer.method == "oauth2",
        error="",
        values={},
    )


@router.post("/{connector_id}")
async def submit_credentials(request: Request, connector_id: str) -> Response:
    try:
        rpc, (info, connector), answer = await _form(request, connector_id)
    except UcfError as err:
        return _problem(request, err)
    # The page's form is urlencoded (no files): parsed here, without a multipart parser.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    values = {f.name: form.get(f.name, "") for f in answer.fields}
    missing = [f for f in answer.fields if f.required and not values[f.name].strip()]
    error, bad = "", ""
    if missing:
        error, bad = f"Please fill in {missing[0].label or missing[0].name}.", missing[0].name
    else:
        callback = connectors_pb2.ConnectCallbackRequest(
            connector_id=connector_id, method=answer.method, connect_params=_connect_params(form, connector)
        )
        if answer.method == "api_key":
            callback.api_key, callback.api_secret = values.get("api_key", ""), values.get("api_secret", "")
        else:
            callback.credentials.CopyFrom(json_format.ParseDict({k: v for k, v in values.items() if v}, Struct()))
        try:
            done = await rpc(rpc.stubs.connectors.ConnectCallback, callback, upstream=True)
        except UcfError as err:
            if err.code in (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
                return _problem(request, err, info.tenant)
            error = _refusal(err)
            bad = str(err.details.get("field") or (answer.fields[0].name if answer.fields else ""))
            if bad.startswith("connectParams."):
                bad = PARAM_PREFIX + bad.removeprefix("connectParams.")
        else:
            target = with_query(
                "/connect/done",
                {"connectionId": done.connection_id, "connectorId": connector_id, "status": done.status},
            )
            return RedirectResponse(target, status_code=303)
    kept = {f.name: values[f.name] for f in answer.fields if not f.secret}  # secrets are never echoed back
    kept.update({k: v for k, v in form.items() if k.startswith(PARAM_PREFIX)})  # connect params are not secret
    return _render(
        request,
        "form.html",
        400,
        info.tenant,
        connector=connector,
        fields=answer.fields,
        error=error,
        bad=bad,
        values=kept,
    )


def _refusal(err: UcfError) -> str:
    if err.details.get("reason") == "credential_rejected":
        text = err.message.rstrip(".")
        return f"{text[:1].upper()}{text[1:]}. Check the value and try again."
    if err.code.http_status >= 500:
        return "The provider could not be reached. Try again in a moment."
    return err.message
