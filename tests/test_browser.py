"""End to end: open report.html in headless Chromium and check what a reader gets.

Every figure renders with a size, the page logs no error, no network request of any kind is
made (only the report file itself loads), flow-diagram text stays inside its boxes and the
synthetic-data header appears when printing. Chromium is Debian's ``/usr/bin/chromium``
(CI installs it); without it this test fails, it is never skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alliance.report.html import write_report
from tests.test_report_html import make_analysis

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

FLOW_TEXT_OUTSIDE_BOXES = """
() => {
  const out = [];
  for (const node of document.querySelectorAll('svg.flow g.flow-node')) {
    const box = node.querySelector('rect').getBBox();
    for (const text of node.querySelectorAll('text')) {
      const t = text.getBBox();
      if (t.x < box.x || t.y < box.y || t.x + t.width > box.x + box.width ||
          t.y + t.height > box.y + box.height) out.push(text.textContent);
    }
  }
  return out;
}
"""


PAGE_RULES = """
() => [...document.styleSheets].flatMap(s => [...s.cssRules])
  .filter(r => r instanceof CSSPageRule).map(r => r.cssText)
"""


@pytest.fixture(scope="module")
def report_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    analysis = make_analysis("crossover_missing", synthetic_copy=folder)
    return write_report(analysis, folder / "out", show_ids=False)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (Debian: apt-get install chromium) "
            "to run the end-to-end report test"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_report_renders_offline_without_errors(browser, report_path, tmp_path):
    url = report_path.resolve().as_uri()
    requests: list[str] = []
    blocked: list[str] = []
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1200, "height": 900})

    def route(route_, request):
        requests.append(request.url)
        if request.url == url or request.url.startswith("data:"):
            route_.continue_()
        else:
            blocked.append(request.url)
            route_.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")

    assert blocked == []
    assert set(requests) == {url}
    assert errors == []

    figures = page.locator("figure svg, img")
    count = figures.count()
    # flow, trajectories, forest, models beside the literature, three per model
    assert count == 1 + 1 + 1 + 1 + 3 * 6
    for i in range(count):
        element = figures.nth(i)
        element.scroll_into_view_if_needed()
        box = element.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, i
    assert page.locator("figure figcaption").count() == count

    assert page.evaluate(FLOW_TEXT_OUTSIDE_BOXES) == []

    banner = page.locator(".synthetic-banner")
    assert banner.is_visible() and "SYNTHETIC DATA" in banner.inner_text()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000

    # The print header is an @page margin box: check Chromium parsed it rather than dropped it.
    page_rules = page.evaluate(PAGE_RULES)
    assert any("@top-center" in r and "SYNTHETIC DATA" in r for r in page_rules), page_rules
    page.emulate_media(media="print")
    assert not page.locator("nav.toc").is_visible()
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
    (tmp_path / "report.pdf").write_bytes(pdf)
    page.screenshot(path=str(tmp_path / "report-print.png"), full_page=True)
    context.close()


@pytest.mark.browser
def test_report_opens_as_a_copied_file(browser, report_path, tmp_path):
    """The page depends on nothing next to it: a lone copy renders all the same."""
    lone = tmp_path / "copy.html"
    shutil.copy(report_path, lone)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(lone.resolve().as_uri(), wait_until="load")
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('figure svg')].map(s => s.getBBox().width)"
    )
    assert len(sizes) == 1 + 1 + 1 + 1 + 3 * 6 and min(sizes) > 0
    assert errors == []
    page.close()
