"""The web dashboard at `/` in a real browser: Debian's Chromium, headless, driven by Playwright (no
browser is downloaded). The page is served without a token; once a viewer token is pasted it lists the
environment, the application with its image and the deployments with status and duration, and shows a
deployment's event timeline. A screenshot is saved as a test artifact: under `$CLOUDFAUJ_TEST_ARTIFACTS`,
else `tests/artifacts/` (ignored by git).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.gitops import application, environment
from tests.e2e.harness import ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifacts() -> Path:
    where = Path(os.environ.get("CLOUDFAUJ_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/test.sh installs it)"
)
def test_the_dashboard_lists_a_deployed_app_and_its_deployments(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    st = Stack(tmp_path).start()
    try:
        v1, v2 = st.push("shop", "v1"), st.push("shop", "v2")
        manifest = tmp_path / "shop.yml"
        manifest.write_text(environment("web") + "---\n" + application("shop", "web", v1))
        assert st.cf("apply", "-f", str(manifest)).code == 0
        manifest.write_text(environment("web") + "---\n" + application("shop", "web", v2))
        assert st.cf("apply", "-f", str(manifest)).code == 0
        viewer = st.cf("token", "create", "dashboard", "--role", "viewer")
        assert viewer.code == 0, str(viewer)
        page_answer = httpx.get(f"{st.url}/")  # the page needs no token; its data does
        assert page_answer.status_code == 200 and "text/html" in page_answer.headers["content-type"]
        assert httpx.get(f"{st.url}/v1/deployments").status_code == 401

        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(  # a fresh profile, for this test only
                str(tmp_path / "profile"),
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"{st.url}/")
                page.fill("#token", viewer.out.strip())
                page.click("text=Show the dashboard")

                app_row = page.locator("tr.application[data-name=shop]")
                sync_api.expect(app_row).to_contain_text("web")
                sync_api.expect(app_row).to_contain_text(v2)
                sync_api.expect(page.locator("#environments tr[data-name=web]")).to_contain_text("ready")
                rows = page.locator("tr.deployment")
                sync_api.expect(rows).to_have_count(2)
                sync_api.expect(rows.nth(0)).to_contain_text("succeeded")
                sync_api.expect(rows.nth(0)).to_contain_text(v2)
                sync_api.expect(rows.nth(0)).to_contain_text(" s")  # its duration
                sync_api.expect(rows.nth(1)).to_contain_text(v1)

                rows.nth(0).locator("button.toggle").click()
                timeline = page.locator("tr.timeline-row")
                sync_api.expect(timeline).to_contain_text("ECS rollout COMPLETED")
                page.screenshot(path=str(artifacts() / "dashboard.png"), full_page=True)

                page.reload()  # the token was kept in the browser: no second paste
                sync_api.expect(page.locator("tr.application[data-name=shop]")).to_contain_text(v2)
                assert errors == []
            finally:
                browser.close()
    finally:
        st.stop()
    assert (artifacts() / "dashboard.png").stat().st_size > 10_000
