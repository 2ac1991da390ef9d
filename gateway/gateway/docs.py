"""`/docs` (Swagger UI) and `/redoc` (ReDoc) with every asset served by the gateway itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc's fonts from Google
Fonts), so they are blank without internet and need a policy that trusts other origins.
These pages are FastAPI's, pointed at the copies the `fastapi-offline` package installs
(Swagger UI bundle and CSS, ReDoc standalone, a favicon), mounted under `/docs/static`.
The pages are rendered once, so `gateway.edge.html_csp` can allow exactly their inline
scripts by hash.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
STATIC_URL = "/docs/static"
ASSETS = Path(str(files("fastapi_offline") / "static"))


def pages(app: FastAPI) -> dict[str, str]:
    """Path -> HTML of each documentation page (none but the OAuth2 redirect without an OpenAPI URL)."""
    out = {OAUTH2_REDIRECT_URL: bytes(get_swagger_ui_oauth2_redirect_html().body).decode()}
    if app.openapi_url:
        favicon = f"{STATIC_URL}/favicon.png"
        swagger = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        redoc = get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
        out[DOCS_URL] = bytes(swagger.body).decode()
        out[REDOC_URL] = bytes(redoc.body).decode()
    return out


def install_docs(app: FastAPI) -> None:
    """Serve the pages and their assets (create the app with `docs_url=None, redoc_url=None`)."""
    for path, html in pages(app).items():

        async def page(_: Request, html: str = html) -> HTMLResponse:
            return HTMLResponse(html)

        app.add_route(path, page, methods=["GET"], include_in_schema=False)
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-static")
