"""`/docs` works on a closed network: every file the page loads is served by the app itself."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def test_docs_page_loads_only_local_assets(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    urls = ASSET.findall(r.text)
    assert {u.rsplit(".", 1)[-1] for u in urls} >= {"js", "css"}
    assert not [u for u in urls if "//" in u], "the page must not load anything from another host"
    assert "url: '/openapi.json'" in r.text or 'url: "/openapi.json"' in r.text


def test_docs_assets_are_served_with_their_content_types(client: TestClient) -> None:
    urls = ASSET.findall(client.get("/docs").text)
    assert urls
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert EXPECTED_TYPES[suffix] in r.headers["content-type"], (url, r.headers)
        assert len(r.content) > 100, url
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle


def test_a_missing_docs_asset_is_404(client: TestClient) -> None:
    assert client.get("/docs/assets/no-such-file.js").status_code == 404
