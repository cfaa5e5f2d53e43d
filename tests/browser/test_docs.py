"""The API docs page in a real browser: Swagger UI renders the document from the service's own files."""

from __future__ import annotations

import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from api import create_app
from tests import services
from tests.browser.test_dashboard import CHROMIUM, browser_ready  # noqa: F401 (a fixture, used by name)


def test_docs_render_every_operation_without_fetching_from_elsewhere(browser_ready: None, tmp_path: Path,
                                                                     redis_url: str) -> None:
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "REDIS_URL": redis_url,
                      "FORECASTING_MODELS_PATH": tmp_path / "models", "LOG_LEVEL": "WARNING"})
    operations = sum(len(item) for item in app.test_client().get("/api/v1/openapi.json").get_json()["paths"].values())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    elsewhere: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.on("request", lambda r: None if r.url.startswith((base, "data:")) else elsewhere.append(r.url))
            page.goto(f"{base}/api/v1/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() == operations
            assert "OAS 3.1" in page.locator(".info").inner_text()
            page.click("text=the problem types")
            page.wait_for_selector("#product-not-found")
            browser.close()
    finally:
        server.shutdown()
        thread.join(10)
    assert elsewhere == []
