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
def app_with_people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = _data_with_people(tmp_path_factory.mktemp("a11y"), ("Aino Admin", "admin", "Friends of Kaisaniemi Park"))
    with browser.running_app(data) as url:
        yield url


def settle(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until the script has finished its run (and the page shows what it drew): twice, with
    a pause between, so a rerun the last one started is waited for too."""
    browser.wait_settled(page, timeout_ms)
    page.wait_for_timeout(600)
    browser.wait_settled(page, timeout_ms)


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
    for n, frame_el in enumerate(page.query_selector_all(browser.MAP_FRAME), start=1):  # every map on the page
        frame = frame_el.content_frame()
        frame.wait_for_selector(".leaflet-marker-icon, .op-cluster", timeout=60_000)
        problems.extend(f"{label}, inside map {n}: {v}" for v in axe_serious(frame))


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
    browser.wait_settled(page)
    page.get_by_text("No map? Choose your local from a list instead").click()
    submit = page.get_by_role("button", name="Show what is within this distance")
    submit.wait_for(timeout=30_000)

    def send() -> None:
        browser.wait_settled(page)
        submit.click()

    browser.retry_until(send, lambda: page.get_by_text("What is inside your local").first.wait_for(timeout=30_000))


def _focused(target: Any) -> str:
    return str(
        target.evaluate(
            "() => { const e = document.activeElement; return e ? (e.getAttribute('aria-label') || e.innerText || e.value"
            " || e.tagName).trim().slice(0, 80) : ''; }"
        )
    )


def _tab_until(page: Any, wanted: str, limit: int = 40, target: Any = None) -> int:
    """Press Tab until the focused element's text holds `wanted`; how many presses it took."""
    seen = []
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if wanted in _focused(target or page):
            return presses
        seen.append(_focused(target or page))
    raise AssertionError(f"{seen} {wanted!r} not reached in {limit} Tab presses (at {_focused(target or page)!r})")


def test_keyboard_only_makes_a_local_and_reads_the_results(playwright: Any, app_with_people: str) -> None:
    chromium = browser.launch(playwright)
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(app_with_people)
    browser.wait_for_map(page)
    settle(page)
    # the keyboard way to a local comes before the map, in a handful of Tab presses
    assert _tab_until(page, "No map? Choose your local") < 25
    page.keyboard.press("Enter")  # the section opens; its fields are built and shown
    page.get_by_label("A place at the middle of your local").wait_for()
    page.get_by_role("button", name="Show what is within this distance").wait_for()
    settle(page)
    assert "No map? Choose your local" in _focused(page)  # focus stays on the section's heading
    _tab_until(page, "A place at the middle of your local", limit=5)
    page.keyboard.type("Helsingin tuomiokirkko")
    page.keyboard.press("Enter")
    _tab_until(page, "Show what is within this distance", limit=6)
    live = page.locator("[role='status'].op-announce").element_handle()
    assert live.inner_text() == "No local yet."
    page.keyboard.press("Enter")
    status = page.locator("[role='status'].op-announce")
    status.filter(has_text="inside your local").wait_for(timeout=60_000)
    settle(page)
    # the same live region, its text changed (a region added afresh would not be read out)
    assert live.evaluate("e => e.isConnected") and "inside your local" in live.inner_text()
    table = page.locator(".st-key-op-results-table table")
    table.locator("tbody tr").first.wait_for(timeout=30_000)
    names = [
        table.locator("tbody tr").nth(i).locator("td").first.inner_text()
        for i in range(table.locator("tbody tr").count())
    ]
    assert "Helsingin tuomiokirkko" in names
    assert status.inner_text().strip() == f"{len(names)} places inside your local."
    assert status.get_attribute("aria-live") == "polite"
    # at 1400x900 the results sit beside the map, their heading and count above the fold
    top = page.evaluate(
        "() => { const main = document.querySelector('[data-testid=stMain]');"
        " const h = [...document.querySelectorAll('h2, h3')].find(e => e.innerText.startsWith("
        "'What is inside your local'));"
        " return h.getBoundingClientRect().top + main.scrollTop; }"
    )
    assert top < 900 - 100, top

    # the skip link: the first thing after the layers, and it jumps past the map to the results
    page.locator(".op-skip").focus()
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.activeElement.id") == "after-the-map"

    # inside the map: a few Tab stops, not one per marker; the places list opens a popup; Escape
    # closes it and gives focus back
    frame = browser.wait_for_map(page)  # a local made off the map mounts a fresh map
    page.locator(".op-skip").focus()
    stops = _tab_until(page, "Places on the map", limit=15, target=frame)
    assert stops <= 10, stops
    assert frame.evaluate("() => [...document.querySelectorAll('.leaflet-marker-icon')].every(m => m.tabIndex < 0)")
    page.keyboard.press("Enter")
    place = frame.locator(".op-places-panel li button").first
    place.wait_for()
    first_place = place.inner_text()
    page.keyboard.press("Tab")
    assert _focused(frame) == first_place
    page.keyboard.press("Enter")
    popup = frame.locator(".op-popup")
    popup.wait_for()
    assert first_place.split(" (")[0] in popup.inner_text()
    page.keyboard.press("Escape")
    popup.wait_for(state="detached")
    assert _focused(frame) == first_place
    # the focus ring: at least 2 px, and near-black (over 3:1 on the map's light background)
    ring = frame.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }"
    )
    assert ring[0] == "solid" and ring[1] >= 2 and ring[2] == "rgb(11, 12, 12)", ring
    chromium.close()


def test_phone_draws_a_local_by_touch_and_reads_every_column(playwright: Any, app_with_people: str) -> None:
    from tests.test_browser import SENATE_SQUARE_AND_ESPLANADI

    chromium = browser.launch(playwright)
    context = chromium.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(app_with_people)
    frame = browser.wait_for_map(page)
    settle(page)
    frame_el = page.wait_for_selector(browser.MAP_FRAME)
    box = frame_el.bounding_box()
    # the map comes first (under the title) and takes at least 60% of the screen's height
    assert box["height"] >= 0.6 * PHONE["height"], box
    assert box["y"] < 0.4 * PHONE["height"], box
    # its key is folded into a button
    key = frame.get_by_role("button", name="Map key")
    assert key.get_attribute("aria-expanded") == "false"
    assert not frame.locator("#op-legend-list").is_visible()

    frame.locator(".leaflet-draw-draw-polygon").tap()
    for lon, lat in [*SENATE_SQUARE_AND_ESPLANADI, SENATE_SQUARE_AND_ESPLANADI[0]]:
        x, y = frame.evaluate(
            "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
            [lat, lon],
        )
        page.touchscreen.tap(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(250)
    status = page.locator("[role='status'].op-announce")
    status.filter(has_text="inside your local").wait_for(timeout=60_000)
    settle(page)
    cards = page.locator(".st-key-op-results-table tbody tr")
    cards.first.wait_for(timeout=30_000)
    # every column of every card is on the screen's width: nothing scrolls sideways
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    widths = page.evaluate(
        "() => [...document.querySelectorAll('.st-key-op-results-table tbody td')]"
        ".map(td => td.getBoundingClientRect().right)"
    )
    assert widths and max(widths) <= PHONE["width"], max(widths)
    texts = [cards.nth(i).inner_text() for i in range(cards.count())]
    cathedral = next(t for t in texts if "Helsingin tuomiokirkko" in t)
    # each cell is led by its column's name (what a sighted reader sees, and a screen reader reads)
    # (an empty cell, a place without an address say, takes no room on its card)
    labels = page.evaluate(
        "() => [...document.querySelectorAll('.st-key-op-results-table tbody tr')].map(tr =>"
        " [...tr.querySelectorAll('td')].map(td => td.textContent.trim() ?"
        " getComputedStyle(td, '::before').content : getComputedStyle(td).display))"
    )
    columns = ["Name", "Category", "Distance from centre", "Share inside", "Address", "Source"]
    assert labels and all(len(row) == len(columns) for row in labels), labels[:2]
    assert all(label in (f'"{c}: "', "none") for row in labels for c, label in zip(columns, row, strict=True)), labels[
        :2
    ]
    assert all(row[0] == '"Name: "' for row in labels), labels[:2]
    assert "Places of worship" in cathedral and "OpenStreetMap" in cathedral
    assert status.inner_text().strip() == f"{len(texts)} places inside your local."
    if os.environ.get("OURPATCH_SCREENSHOTS"):
        page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
        page.wait_for_timeout(500)
        PHONE_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PHONE_SCREENSHOT))
        cards.first.scroll_into_view_if_needed()
        page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollBy(0, -120)")
        page.wait_for_timeout(500)
        page.screenshot(path=str(PHONE_SCREENSHOT.with_name("phone-results.png")))
    chromium.close()
