"""Installs the pages, their static files and the API's interactive docs on the application.

Everything a page loads comes from this origin: the vendored libraries under
``static/vendor/`` (each with its licence file), our own stylesheets and scripts, and the
Swagger UI of ``/docs``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from callhopper.web.console import (
    audit,
    campaigns,
    dashboard,
    dnc,
    home,
    hopper,
    lists,
    mass_edit,
    ownership,
    people,
    roles,
    skills,
    staleness,
    why,
    windows,
    workflows,
    wrapup,
)
from callhopper.web.pages import records, signin, workspace

STATIC_PREFIX = "/static"
DOCS_PATH = "/docs"


def install(app: FastAPI) -> None:
    """Add the pages (sign-in, the agent workspace, the console), mount ``/static`` and
    serve ``/docs`` with the vendored Swagger UI. The application must be created with
    ``docs_url=None`` and ``redoc_url=None`` (their defaults load scripts from a CDN)."""
    for pages in (
        signin,
        workspace,
        records,
        home,
        lists,
        campaigns,
        ownership,
        dashboard,
        why,
        mass_edit,
        hopper,
        workflows,
        skills,
        audit,
        people,
        dnc,
        roles,
        wrapup,
        windows,
        staleness,
    ):
        app.include_router(pages.router)
    app.mount(
        STATIC_PREFIX,
        StaticFiles(packages=[("callhopper.web", "static")]),
        name="static",
    )
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{STATIC_PREFIX}/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon.svg",
        )
