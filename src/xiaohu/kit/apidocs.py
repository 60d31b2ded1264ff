"""`/docs` served from this process: Swagger UI's files come from a package, not a CDN.

FastAPI's own `/docs` page loads Swagger UI from a CDN, so on a closed network (an operator's
data centre) it stays blank. `swagger-ui-bundle-v2` ships Swagger UI 5, which reads the
OpenAPI 3.1 document FastAPI writes (the older `swagger-ui-bundle` stops at Swagger UI 4,
which cannot). `/redoc` is not offered: one offline reference page is enough.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def mount_docs(app: FastAPI) -> None:
    """Serve `/docs` and the Swagger UI files it loads; the app is built with `docs_url=None`."""
    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} – API"

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=None,
        )
