"""With the database unreachable, a browser gets the 503 page and /healthz says when to
retry, as the API's 503 does (in-process on both engines; over HTTP on PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from xiaohu.app import create_app
from xiaohu.runtime import Runtime


def test_database_down_is_a_503_page_and_healthz_has_retry_after(runtime: Runtime) -> None:
    nowhere = create_engine("sqlite:////nonexistent-directory/xiaohu.db")
    runtime.sessions = sessionmaker(bind=nowhere)
    runtime.engine = nowhere
    with TestClient(create_app(runtime, outbox_worker=False)) as client:
        r = client.get("/", headers={"accept": "text/html"})
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert int(r.headers["retry-after"]) > 0
        r = client.get("/healthz")
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
