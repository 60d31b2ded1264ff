"""The floor for `make bench`: the same framework and server, no database, no middleware.

Served by uvicorn exactly like the real app (`--factory`, same workers), so the gap between
this row and the cancellation check is what our own code and the database cost.
The route is a plain `def`, like every xiaohu route, so it also goes through the threadpool.
"""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="trivial", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/v1/ping")
    def ping() -> dict[str, bool]:
        return {"pong": True}

    return app
