"""Browser journeys: the real app in Debian's Chromium, driven with Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from shapely.geometry import Point

from layers.settings import REPO_ROOT
from tests import browser
from tests.handmade import HOSTILE_NAME, add_published_handmade_asset

pytestmark = pytest.mark.browser

SENATE_SQUARE_AND_ESPLANADI = [(24.9440, 60.1665), (24.9560, 60.1665), (24.9560, 60.1705), (24.9440, 60.1705)]
SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "explore-local.png"
TILE_HOSTS = {"tile.openstreetmap.org"}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with browser.running_app(tmp_path_factory.mktemp("browser-data")) as url:
        yield url


def test_resident_draws_a_local_and_sees_what_is_inside(playwright: Any, app_url: str) -> None:
    chromium = browser.launch(playwright)
    page = chromium.new_page(viewport={"width": 1400, "height": 1900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    browser.wait_for_map(page)

    browser.draw_polygon(page, SENATE_SQUARE_AND_ESPLANADI)
    page.wait_for_selector("text=What is inside your local", timeout=30_000)
    table = page.locator(RESULTS_TABLE)
    table.wait_for()
    text = table.inner_text()
    assert "Helsingin tuomiokirkko" in text
    assert "Esplanadinpuisto" in text
    chart = page.locator("[data-testid='stVegaLiteChart']")
    chart.first.wait_for(timeout=30_000)
    assert chart.count() == 1
    assert page.get_by_text("Places of worship:", exact=False).count() >= 1
    # the drawn area's finds are ringed on the map, over the base map drawn from the extract
    frame = page.wait_for_selector(browser.MAP_FRAME).content_frame()
    assert frame.query_selector(".leaflet-op-base-pane canvas") is not None
    frame.wait_for_function("() => document.querySelectorAll('path[stroke-dasharray=\"4 3\"]').length > 0")

    page.wait_for_timeout(500)
    if os.environ.get("OURPATCH_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    hosts = {urlparse(u).hostname for u in requests if u.startswith("http")}
    assert hosts - TILE_HOSTS <= {"127.0.0.1", "localhost"}, hosts
    assert not errors, errors
    chromium.close()


def test_panning_and_zooming_do_not_rerun_the_script(playwright: Any, app_url: str) -> None:
    chromium = browser.launch(playwright)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    sent: list[Any] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(app_url)
    frame = browser.wait_for_map(page)
    page.wait_for_timeout(2000)
    before = len(sent)
    frame.click(".leaflet-control-zoom-in")
    page.wait_for_timeout(600)
    box = page.wait_for_selector(browser.MAP_FRAME).bounding_box()
    page.mouse.move(box["x"] + 500, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 350, box["y"] + 200, steps=8)
    page.mouse.up()
    frame.click(".leaflet-control-zoom-out")
    page.wait_for_timeout(2500)
    assert len(sent) == before, "a pan or zoom sent a message to the server (a rerun)"
    chromium.close()


def test_hostile_text_shows_as_text_and_runs_nothing(playwright: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.environ["OURPATCH_DATA_DIR"], old = str(data), os.environ["OURPATCH_DATA_DIR"]
    try:
        add_published_handmade_asset(HOSTILE_NAME, Point(24.9500, 60.1677), website="javascript:alert(1)")
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        frame = browser.wait_for_map(page)
        frame.evaluate(
            """(name) => { for (const el of document.querySelectorAll('.leaflet-marker-icon'))
                   if (el.title === name) { el.click(); return; } throw new Error('no marker'); }""",
            HOSTILE_NAME,
        )
        popup = frame.wait_for_selector(".op-popup")
        assert HOSTILE_NAME in popup.inner_text()
        assert popup.query_selector("img") is None
        assert popup.query_selector("a") is None  # a javascript: website is shown as text, not a link
        page.wait_for_timeout(500)
        assert frame.evaluate("() => window.__xss") is None
        assert not dialogs
        chromium.close()


RESULTS_TABLE = ".st-key-op-results-table table"
MISSING_TABLE = ".st-key-op-missing-table table"


def _names_in_first_table(page: Any) -> list[str]:
    """The names in the list of what is inside the local."""
    table = page.locator(RESULTS_TABLE)
    table.wait_for(timeout=30_000)
    rows = table.locator("tbody tr")
    return [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]


def test_walk_time_local_saved_and_opened_from_its_share_link(playwright: Any, app_url: str) -> None:
    from layers.osm import sources

    park = sources.current().assets.set_index("name").loc["Kaisaniemen puisto"].geometry
    inside_park = park.buffer(-0.0006).centroid  # in the park, away from its symbol
    chromium = browser.launch(playwright)
    page = chromium.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(app_url)
    browser.wait_for_map(page)
    browser.wait_settled(page)
    page.get_by_text("Walk-time local: what can you reach").click()  # a folded section
    toggle = page.get_by_text("Or click the map to choose the start")
    toggle.wait_for()

    def switch_on() -> None:
        browser.wait_settled(page)
        toggle.click()

    def is_on() -> None:
        switch = page.get_by_label("Or click the map to choose the start").element_handle(timeout=10_000)
        page.wait_for_function("el => el.checked", arg=switch, timeout=10_000)

    browser.retry_until(switch_on, is_on)
    browser.wait_for_map(page)  # the map mounts afresh to report clicks
    browser.wait_settled(page)
    minutes = page.locator("[data-testid='stSlider']").filter(has_text="Minutes")
    shown = minutes.locator("[data-testid='stSliderThumbValue']")
    for _ in range(10):  # 15 -> 10 minutes, a key at a time (a rerun in between can undo one)
        if shown.inner_text().strip() == "10":
            break
        browser.wait_settled(page)
        minutes.get_by_role("slider").press("ArrowLeft")
    assert shown.inner_text().strip() == "10"
    browser.wait_settled(page)

    def click_the_park() -> None:
        browser.wait_settled(page)
        frame_el = page.wait_for_selector(browser.MAP_FRAME)
        frame = frame_el.content_frame()
        frame.wait_for_function("() => window.map && window.map._opPickStart === true")
        box = frame_el.bounding_box()
        x, y = frame.evaluate(
            "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
            [inside_park.y, inside_park.x],
        )
        page.mouse.click(box["x"] + x, box["y"] + y)

    browser.retry_until(click_the_park, lambda: page.get_by_text("What is missing").first.wait_for(timeout=20_000))
    names = _names_in_first_table(page)
    assert "Kaisaniemen puisto" in names
    assert page.get_by_text("Starting from the point you clicked").count() == 1
    missing = page.locator(MISSING_TABLE).inner_text()
    assert "min walking" in missing or "None on this map" in missing

    page.get_by_label("Name your local").fill("By Kaisaniemi park")
    page.get_by_role("button", name="Save and get a private link").click()
    code = page.locator("[data-testid='stCode']").first
    code.wait_for(timeout=30_000)
    link = code.inner_text().strip()
    assert "?local=" in link
    token = link.split("?local=")[1]

    fresh = chromium.new_context(viewport={"width": 1400, "height": 1800})
    other = fresh.new_page()
    other.goto(f"{app_url}?local={token}")
    other.get_by_text("What is inside your local").wait_for(timeout=60_000)
    assert _names_in_first_table(other) == names
    assert other.get_by_text("Starting from the saved start").count() == 1
    if os.environ.get("OURPATCH_SCREENSHOTS"):
        browser.wait_for_map(other)
        other.wait_for_timeout(1000)
        other.screenshot(path=str(REPO_ROOT / "docs" / "screenshots" / "walk-time-local.png"))
    chromium.close()


def test_drawing_during_a_walk_time_local_shows_the_choice_under_the_map(playwright: Any, app_url: str) -> None:
    chromium = browser.launch(playwright)
    page = chromium.new_page(viewport={"width": 1400, "height": 1800})
    sent: list[Any] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(app_url)
    browser.wait_for_map(page)
    browser.wait_settled(page)
    page.get_by_text("Walk-time local: what can you reach").click()  # a folded section
    page.get_by_label("Start from an address, street or place").fill("Unioninkatu 29")
    page.keyboard.press("Enter")
    start_here = page.get_by_role("button", name="Start from here")
    start_here.wait_for(timeout=30_000)
    browser.wait_settled(page)
    start_here.click()
    page.get_by_text("What is inside your local").first.wait_for(timeout=60_000)
    page.locator(RESULTS_TABLE).wait_for(timeout=30_000)
    assert "Distance from start" in page.locator(RESULTS_TABLE).inner_text()
    page.wait_for_timeout(2000)
    before = len(sent)
    browser.draw_polygon(page, SENATE_SQUARE_AND_ESPLANADI)
    question = page.get_by_text("You have drawn an area and asked for a walk-time area")
    question.wait_for(timeout=30_000)
    # the choice in force is shown: the drawing is added to the walk-time area, not left out
    assert page.get_by_role("radio", name="Either: the walk-time area and the drawn area together").is_checked()
    page.wait_for_timeout(2000)
    assert len(sent) - before == 1, "a drawing should ask the server once (no second, delayed report)"
    map_box = page.wait_for_selector(browser.MAP_FRAME).bounding_box()
    assert question.bounding_box()["y"] > map_box["y"] + map_box["height"]  # right under the map
    page.get_by_text("Walk-time area only").click()
    page.get_by_text("Your drawing is not part of your local").wait_for(timeout=30_000)
    chromium.close()


def _sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(url + "signin")
    page.get_by_label("Your name").wait_for(timeout=60_000)
    browser.wait_settled(page)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=30_000)


def _choose(page: Any, label: str, option: str) -> None:
    box = page.get_by_label(label)
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option).first.click()


PASSWORD = "a long enough password"


def _data_with_people(tmp_path: Path, *people: tuple[str, str, str | None]) -> Path:
    """A data folder of its own with these (name, role, group) accounts, all with PASSWORD."""
    from layers.groups import accounts

    data = tmp_path / "data"
    data.mkdir()
    os.environ["OURPATCH_DATA_DIR"], old = str(data), os.environ["OURPATCH_DATA_DIR"]
    try:
        for name, role, group in people:
            accounts.add_user(name, role, PASSWORD, group=group)
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old
    return data


def test_group_adds_asset_moderator_publishes_resident_sees_it(playwright: Any, tmp_path: Path) -> None:
    data = _data_with_people(
        tmp_path, ("Eeva Editor", "editor", "Friends of Kaisaniemi Park"), ("Mika Moderator", "moderator", None)
    )
    password = PASSWORD
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        editor = chromium.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        _sign_in(editor, url, "Eeva Editor", password)
        editor.get_by_role("link", name="Your group").click()  # a new page load would be a new session
        frame_el = editor.wait_for_selector(browser.MAP_FRAME, timeout=60_000)
        frame = frame_el.content_frame()
        frame.wait_for_selector(".leaflet-marker-icon")
        box = frame_el.bounding_box()
        x, y = frame.evaluate(
            "() => { const p = window.map.latLngToContainerPoint([60.1752, 24.9440]); return [p.x, p.y]; }"
        )
        editor.mouse.click(box["x"] + x, box["y"] + y)
        editor.get_by_text("Location: 60.17").wait_for(timeout=30_000)
        editor.get_by_label("Name", exact=True).fill("Friends of Kaisaniemi Park")
        editor.get_by_label("When you meet or open (for example Saturdays 10:00-12:00)").fill("Saturdays 10:00")
        _choose(editor, "Link to a place", "Cares for")
        _choose(editor, "The place", "Kaisaniemen puisto (Parks and green spaces)")
        editor.get_by_role("button", name="Send for checking").click()
        editor.get_by_text("is waiting for a moderator").wait_for(timeout=30_000)

        moderator = chromium.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        _sign_in(moderator, url, "Mika Moderator", password)
        moderator.get_by_role("link", name="Moderate").click()
        moderator.get_by_text("Friends of Kaisaniemi Park").first.wait_for(timeout=30_000)
        moderator.get_by_role("button", name="Publish").click()
        moderator.get_by_text("Published: residents now see Friends of Kaisaniemi Park").wait_for(timeout=30_000)

        resident = chromium.new_context(viewport={"width": 1400, "height": 1800}).new_page()
        resident.goto(url)
        frame = browser.wait_for_map(resident)
        assert frame.evaluate("""() => [...document.querySelectorAll('.leaflet-marker-icon')]
                                       .some(el => el.title === 'Friends of Kaisaniemi Park')""")
        frame.evaluate("""() => { for (const el of document.querySelectorAll('.leaflet-marker-icon'))
                                    if (el.title === 'Kaisaniemen puisto') { el.click(); return; } }""")
        popup = frame.wait_for_selector(".op-popup")
        assert "Cared for by Friends of Kaisaniemi Park" in popup.inner_text()
        popup.click()  # then Escape closes it, so it covers nothing to draw on
        resident.keyboard.press("Escape")
        frame.wait_for_selector(".op-popup", state="detached")
        browser.draw_polygon(resident, [(24.9410, 60.1725), (24.9505, 60.1725), (24.9505, 60.1775), (24.9410, 60.1775)])
        resident.get_by_text("What is inside your local").wait_for(timeout=30_000)
        resident.locator(RESULTS_TABLE).wait_for(timeout=30_000)
        table = resident.locator(RESULTS_TABLE).inner_text()
        assert "Friends of Kaisaniemi Park" in table and "Community" in table
        chromium.close()


def test_planner_downloads_a_geopackage_in_the_crs_that_fits(playwright: Any, tmp_path: Path) -> None:
    import pyogrio

    from tests.gdal_checks import assert_valid_gpkg

    data = _data_with_people(tmp_path, ("Pia Planner", "planner", None))
    password = PASSWORD
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        context = chromium.new_context(viewport={"width": 1400, "height": 2000}, accept_downloads=True)
        page = context.new_page()
        _sign_in(page, url, "Pia Planner", password)
        page.get_by_role("link", name="Download layers").click()
        browser.wait_for_map(page)
        browser.draw_polygon(page, SENATE_SQUARE_AND_ESPLANADI)
        page.wait_for_timeout(1500)
        frame = page.wait_for_selector(browser.MAP_FRAME).content_frame()
        drawn = frame.evaluate("() => window.drawnItems.toGeoJSON()")  # the shape as drawn, to the pixel
        page.get_by_role("button", name="Prepare the download").click()
        button = page.get_by_role("button", name="Download our-patch.gpkg")
        button.wait_for(timeout=60_000)
        with page.expect_download() as info:
            button.click()
        saved = tmp_path / "download.gpkg"
        info.value.save_as(saved)
        chromium.close()
    from layers import areas
    from layers.analysis import query
    from layers.osm import sources

    expected = query.AssetIndex(sources.current().assets).within(areas.parse_area(drawn))
    assert_valid_gpkg(saved)
    layers = [name for name, _ in pyogrio.list_layers(saved)]
    frames = [pyogrio.read_dataframe(saved, layer=name) for name in layers]
    assert all(f.crs.to_epsg() == 3067 and len(set(f.geom_type)) == 1 for f in frames)  # proposed for Helsinki
    assert sum(len(f) for f in frames) == len(expected)
    names = {n for f in frames for n in f["name"].dropna()}
    assert {"Helsingin tuomiokirkko", "Esplanadinpuisto"} <= names


MARKDOWN_NAME = "![tracker](http://198.51.100.7/pixel.png) # APPROVE ME"


def _no_markdown_from(page: Any, requests: list[str]) -> None:
    """Tables hold the hostile name as text: no image or heading made from it, and no link that
    says one thing and goes elsewhere (Streamlit's Markdown turns a bare URL into a link to itself)."""
    tables = page.locator(browser.TABLES)
    assert tables.locator("img").count() == 0
    made = tables.locator("h1, h2, h3, h4, h5, h6, blockquote, li, strong, em")
    assert made.count() == 0, [made.nth(i).evaluate("e => e.outerHTML") for i in range(made.count())]
    links = tables.locator("a")
    for i in range(links.count()):
        assert links.nth(i).evaluate("e => e.textContent === e.getAttribute('href')")
    assert page.locator("h1, h2, h3", has_text="APPROVE ME").count() == 0
    assert not [u for u in requests if "198.51.100.7" in u], requests


def test_hostile_names_show_as_text_in_tables_headings_and_moderate(playwright: Any, tmp_path: Path) -> None:
    from layers.groups import accounts, community

    data = _data_with_people(
        tmp_path, ("Eeva Editor", "editor", "Handmade Hostile Group"), ("Mika Moderator", "moderator", None)
    )
    os.environ["OURPATCH_DATA_DIR"], old = str(data), os.environ["OURPATCH_DATA_DIR"]
    try:
        add_published_handmade_asset(MARKDOWN_NAME, Point(24.9500, 60.1677))
        editor = accounts.authenticate("Eeva Editor", PASSWORD)
        community.create_asset(editor, {"name": "# APPROVE ME pending", "geometry": Point(24.9510, 60.1680)})
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        requests: list[str] = []

        resident = chromium.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        resident.on("request", lambda r: requests.append(r.url))
        resident.goto(url)
        browser.wait_for_map(resident)
        browser.draw_polygon(resident, SENATE_SQUARE_AND_ESPLANADI)
        resident.get_by_text("What is inside your local").wait_for(timeout=60_000)
        resident.locator(RESULTS_TABLE).wait_for(timeout=30_000)
        text = resident.locator(RESULTS_TABLE).inner_text()
        assert MARKDOWN_NAME in text, [line for line in text.split("\n") if "APPROVE" in line or "tracker" in line]
        _no_markdown_from(resident, requests)

        finder = chromium.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        finder.on("request", lambda r: requests.append(r.url))
        finder.goto(url + "find")
        box = finder.get_by_label("Name, address or place")
        box.fill("APPROVE")
        box.press("Enter")
        table = finder.locator(".st-key-op-find-table table").first
        table.wait_for(timeout=60_000)
        assert MARKDOWN_NAME in table.inner_text()
        _no_markdown_from(finder, requests)

        moderator = chromium.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        moderator.on("request", lambda r: requests.append(r.url))
        _sign_in(moderator, url, "Mika Moderator", PASSWORD)
        moderator.get_by_role("link", name="Moderate").click()
        table = moderator.locator("[data-testid='stTable']").first
        table.wait_for(timeout=60_000)
        assert "# APPROVE ME pending" in table.inner_text()
        _no_markdown_from(moderator, requests)
        chromium.close()


def test_clustered_markers_open_their_popups(playwright: Any, tmp_path: Path) -> None:
    """Past build.CLUSTER_FROM places the markers are clustered and carry no popup until one is
    opened: a click on a marker, once zoomed in, opens its popup with its name (generated places)."""
    from benchmarks.browser_bench import _synthetic_extract
    from mapping import build

    data = tmp_path / "data"
    data.mkdir()
    _synthetic_extract(build.CLUSTER_FROM + 100, data)
    with browser.running_app(data, env={"OURPATCH_TILE_URL": "none"}) as url:
        chromium = browser.launch(playwright)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        frame = browser.wait_for_map(page, timeout_ms=120_000)
        frame.wait_for_selector(".op-cluster")
        # the marks benchmarks/browser_bench.py times "page interactive" by (not Playwright's polling)
        frame.wait_for_function("() => performance.getEntriesByName('ourpatch:painted').length === 1")
        marks = frame.evaluate("performance.getEntriesByType('mark').map(m => m.name)")
        assert marks.index("ourpatch:clustered") < marks.index("ourpatch:drawn") < marks.index("ourpatch:painted")
        # axe in a clustered map's frame; clusters are out of the Tab order (like markers) and a
        # click on one zooms in
        from tests.test_accessibility import axe_serious

        browser.wait_settled(page)
        frame.wait_for_function("() => [...document.styleSheets].some(s => (s.href || '').endsWith('leaflet.css'))")
        problems = axe_serious(frame)
        assert not problems, "\n".join(problems)
        assert "places here: zoom in" in (frame.locator(".op-cluster").first.get_attribute("title") or "")
        assert frame.locator(".op-cluster[tabindex], .leaflet-marker-icon[tabindex]").count() == 0
        name = frame.evaluate("""() => new Promise((done) => {
            const place = window.map._opPlaces[7];
            window.map._opClusters.show(place, () => done(place.name)); })""")
        icon = frame.locator(f".leaflet-marker-icon[title='{name}']")
        icon.wait_for()
        icon.click()
        popup = frame.locator(".op-popup")
        popup.wait_for(timeout=10_000)
        assert name in popup.inner_text() and name.startswith("Synthetic place")
        frame.evaluate("window.map.closePopup(); window.map.setZoom(window.map.getMinZoom() + 1, {animate: false})")
        zoom = frame.evaluate("window.map.getZoom()")
        frame.locator(".op-cluster").first.click()  # a cluster: zooms in to its places
        frame.wait_for_function(f"() => window.map.getZoom() > {zoom}")
        assert not errors, errors
        chromium.close()
