"""WCAG 2.2 AA in the real app: axe-core on every page (signed out and signed in) and inside the
map's frame once its markers are drawn; a keyboard-only journey; a phone journey at 390×844."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from layers.settings import REPO_ROOT
from mapping import vendor
from tests import browser
from tests.test_browser import PASSWORD, _data_with_people, _sign_in

pytestmark = pytest.mark.browser

AXE_JS = vendor.VENDOR_DIR / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {"width": 390, "height": 844}
PHONE_SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "phone-local.png"


def app_pages() -> list[tuple[str, str]]:
    """(title, url path) of every page in app.py's navigation, so a new page cannot be missed."""
    source = (REPO_ROOT / "app.py").read_text()
    pages = re.findall(r'st\.Page\(\s*"views/(\w+)\.py",\s*title="([^"]+)"(.*?)\)', source)
    assert len(pages) >= 9, pages
    return [(title, "" if "default=True" in rest else stem) for stem, title, rest in pages]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not browser.chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {browser.CHROMIUM}; CI must install it (apt-get install chromium).")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def app_with_people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = _data_with_people(tmp_path_factory.mktemp("a11y"), ("Aino Admin", "admin", "Friends of Kaisaniemi Park"))
    with browser.running_app(data) as url:
        yield url


def settle(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until the script has finished its run (and the page shows what it drew)."""
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-test-script-state]');"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(600)
    page.wait_for_function(
        "() => document.querySelector('[data-test-script-state]').getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout_ms,
    )
    # and until elements that were stale during the run have faded back in
    page.wait_for_function(
        "() => document.getAnimations().every(a => !(a instanceof CSSTransition) || a.playState !== 'running')",
        timeout=timeout_ms,
    )


def axe_serious(target: Any) -> list[str]:
    """Serious and critical WCAG A/AA violations axe-core finds in a page or frame (its own document)."""
    if not target.evaluate("() => typeof window.axe !== 'undefined'"):
        target.add_script_tag(content=AXE_JS.read_text())
    found = target.evaluate(
        """async (tags) => {
             const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: false,
                                                resultTypes: ['violations']});
             return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
               .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' +
                    v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' ' + n.failureSummary).join(' | '));
           }""",
        AXE_TAGS,
    )
    return list(found)


def check_page(page: Any, label: str, problems: list[str]) -> None:
    settle(page)
    problems.extend(f"{label}: {v}" for v in axe_serious(page))
    if page.locator(browser.MAP_FRAME).count():
        frame = browser.wait_for_map(page)
        problems.extend(f"{label}, inside the map: {v}" for v in axe_serious(frame))


def test_axe_finds_no_serious_violations_on_any_page(playwright: Any, app_with_people: str) -> None:
    url = app_with_people
    chromium = browser.launch(playwright)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    pages = app_pages()
    for title, path in pages:  # signed out: each page loaded by its address
        page.goto(url + path)
        page.get_by_role("heading", level=1).first.wait_for(timeout=60_000)
        check_page(page, f"{title} (signed out)", problems)
    # a local with its results, the chart and the list
    page.goto(url)
    browser.wait_for_map(page)
    _choose_local_from_the_list(page)
    page.get_by_text("What is inside your local").first.wait_for(timeout=60_000)
    check_page(page, "Explore with a local (signed out)", problems)

    _sign_in(page, url, "Aino Admin", PASSWORD)  # then move by the page links: a reload signs out
    for title, _ in pages:
        page.get_by_role("link", name=title, exact=True).first.click()
        page.get_by_role("heading", level=1).first.wait_for(timeout=60_000)
        settle(page)
        if title == "Download layers":
            page.get_by_role("button", name="Prepare the download").click()
            page.get_by_role("button", name=re.compile("^Download our-patch")).wait_for(timeout=60_000)
        check_page(page, f"{title} (signed in)", problems)
    chromium.close()
    assert not problems, "\n".join(problems)


def _choose_local_from_the_list(page: Any) -> None:
    page.get_by_text("No map? Choose your local from a list instead").click()
    page.get_by_role("button", name="Show what is within this distance").click()
