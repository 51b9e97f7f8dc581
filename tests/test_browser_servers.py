"""Two app servers, one PostGIS, one origin: the deployment README recommends, in Debian's
Chromium. Two `streamlit run app.py` processes on two ports, each with a data folder of its own
and the same OURPATCH_DATABASE_URL, behind a sticky reverse proxy (tests/proxy.py) that sends each
browser to the server its cookie names. Across them: a sign-in made on A is honoured by B (and a
sign-out on B ends it on A); a group's asset added and published on A appears on the map of a
resident whose page was already open on B; a local saved on A opens on B by its private link."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layers.groups import accounts
from layers.osm import sources
from tests import browser, pg
from tests.proxy import COOKIE, StickyProxy
from tests.test_browser import PASSWORD, SENATE_SQUARE_AND_ESPLANADI, _names_in_first_table, _sign_in

pytestmark = pytest.mark.browser

NAME = "Handmade Two Servers Choir"
A, B = 0, 1


@pytest.fixture
def shared_postgis(postgis_server: str | None) -> Iterator[str]:
    """A fresh schema on the test PostGIS; without one, skip with the reason (fail with CI=true)."""
    with pg.fresh_schema(pg.reachable_or_skip(postgis_server)) as url:
        yield url


def _on(context: Any, proxy: StickyProxy, server: int) -> None:
    """Send this browser context to one server from now on (as a load balancer's cookie would)."""
    context.add_cookies([{"name": COOKIE, "value": str(server), "url": proxy.url}])


def _markers(frame: Any) -> list[str]:
    return list(frame.evaluate("() => [...document.querySelectorAll('.leaflet-marker-icon')].map(el => el.title)"))


def _health(proxy: StickyProxy, server: int) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(proxy.url + "health", headers={"Cookie": f"{COOKIE}={server}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own proxy on 127.0.0.1
        return int(answer.status), json.loads(answer.read())


def test_two_servers_share_sign_ins_edits_and_saved_locals(
    playwright: Any, tmp_path: Path, shared_postgis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [tmp_path / "server-a", tmp_path / "server-b"]
    for folder in folders:
        folder.mkdir()
    monkeypatch.setenv("OURPATCH_DATA_DIR", str(folders[A]))
    monkeypatch.setenv("OURPATCH_DATABASE_URL", shared_postgis)
    sources.current()  # the prepared extract: each server reads its own copy, as `load` on each would make
    shutil.copytree(folders[A] / "default", folders[B] / "default")
    accounts.add_user("Eeva Editor", "editor", PASSWORD, group="Handmade Friends")
    accounts.add_user("Mika Moderator", "moderator", PASSWORD)

    env = {"OURPATCH_DATABASE_URL": shared_postgis}
    with (
        browser.running_app(folders[A], env=env) as url_a,
        browser.running_app(folders[B], env=env) as url_b,
        StickyProxy([int(url_a.rstrip("/").rsplit(":", 1)[1]), int(url_b.rstrip("/").rsplit(":", 1)[1])]) as proxy,
    ):
        front = proxy.url
        assert _health(proxy, A) == (200, {"ok": True}) and _health(proxy, B) == (200, {"ok": True})
        assert proxy.served(0, "/health") == {A, B}
        chromium = browser.launch(playwright)

        # A resident has the map open on B before anything is added: B's layers are built and cached.
        resident_context = chromium.new_context(viewport={"width": 1400, "height": 1800})
        _on(resident_context, proxy, B)
        resident = resident_context.new_page()
        mark = len(proxy.log)
        resident.goto(front)
        frame = browser.wait_for_map(resident)
        assert "Kaisaniemen puisto" in _markers(frame) and NAME not in _markers(frame)
        assert proxy.served(mark, "/_stcore/stream") == {B}

        # On A: an editor adds an asset, a moderator publishes it.
        editor_context = chromium.new_context(viewport={"width": 1400, "height": 2400})
        _on(editor_context, proxy, A)
        editor = editor_context.new_page()
        mark = len(proxy.log)
        _sign_in(editor, front, "Eeva Editor", PASSWORD)
        editor.get_by_role("link", name="Your group").click()
        editor.get_by_label("Find an address or place").fill("Unioninkatu 13")
        editor.get_by_label("Find an address or place").press("Enter")
        editor.get_by_text("Location: 60.1659").wait_for(timeout=60_000)
        editor.get_by_label("Name", exact=True).fill(NAME)
        editor.get_by_label("What you do", exact=True).fill("A choir that sings on two servers.")
        editor.get_by_role("button", name="Send for checking").click()
        editor.get_by_text(f"Thank you: {NAME} is waiting").wait_for(timeout=60_000)
        assert proxy.served(mark, "/_stcore/stream") == {A} and proxy.served(mark, "/auth/session") == {A}

        moderator_context = chromium.new_context(viewport={"width": 1400, "height": 2400})
        _on(moderator_context, proxy, A)
        moderator = moderator_context.new_page()
        mark = len(proxy.log)
        _sign_in(moderator, front, "Mika Moderator", PASSWORD)
        moderator.get_by_role("link", name="Moderate").click()
        moderator.get_by_text(NAME).first.wait_for(timeout=60_000)
        moderator.get_by_role("button", name="Publish").click()
        moderator.get_by_text(f"Published: residents now see {NAME}").wait_for(timeout=60_000)
        assert proxy.served(mark, "/_stcore/stream") == {A}

        # The resident's open page on B: the next rerun (moving to another page and back) shows it.
        mark = len(proxy.log)
        resident.get_by_role("link", name="Find a place or service").click()
        resident.get_by_role("link", name="Explore the map").click()
        resident.wait_for_function(
            """(name) => { const f = document.querySelector("iframe[title='streamlit_folium.st_folium']");
                           const d = f && f.contentDocument;
                           return !!d && [...d.querySelectorAll('.leaflet-marker-icon')].some(el => el.title === name); }""",
            arg=NAME,
            timeout=60_000,
        )
        assert proxy.served(mark, "/_stcore/stream") <= {B}  # the same websocket (a new one would be B's too)

        # The editor's sign-in, made on A, is honoured by B: a new tab sent to B is signed in.
        _on(editor_context, proxy, B)
        on_b = editor_context.new_page()
        mark = len(proxy.log)
        on_b.goto(front + "group")
        on_b.get_by_text("Your assets").wait_for(timeout=60_000)
        on_b.locator("[data-testid='stTable']").get_by_text(NAME).first.wait_for(timeout=60_000)  # her group's list
        assert proxy.served(mark, "/_stcore/stream") == {B}

        # A local saved on A opens on B from its private link.
        saver_context = chromium.new_context(viewport={"width": 1400, "height": 1900})
        _on(saver_context, proxy, A)
        saver = saver_context.new_page()
        mark = len(proxy.log)
        saver.goto(front)
        browser.wait_for_map(saver)
        browser.draw_polygon(saver, SENATE_SQUARE_AND_ESPLANADI)
        saver.get_by_text("What is inside your local").wait_for(timeout=60_000)
        names = _names_in_first_table(saver)
        assert "Helsingin tuomiokirkko" in names
        saver.get_by_label("Name your local").fill("Handmade local across servers")
        saver.get_by_role("button", name="Save and get a private link").click()
        code = saver.locator("[data-testid='stCode']").first
        code.wait_for(timeout=60_000)
        token = code.inner_text().strip().split("?local=")[1]
        assert proxy.served(mark, "/_stcore/stream") == {A}

        reader_context = chromium.new_context(viewport={"width": 1400, "height": 1900})
        _on(reader_context, proxy, B)
        reader = reader_context.new_page()
        mark = len(proxy.log)
        reader.goto(f"{front}?local={token}")
        reader.get_by_text("What is inside your local").wait_for(timeout=60_000)
        assert _names_in_first_table(reader) == names
        assert proxy.served(mark, "/_stcore/stream") == {B}

        # Signing out on B ends the session on A too (it lives in the database): the old cookie,
        # put back in the browser, is refused by A.
        old_cookie = next(c for c in editor_context.cookies() if c["name"] == "ourpatch_session")
        on_b.goto(front + "signin")
        on_b.get_by_role("button", name="Sign out", exact=True).click()
        on_b.get_by_text("You are signed out").wait_for(timeout=60_000)
        editor_context.add_cookies([old_cookie])
        _on(editor_context, proxy, A)
        back_on_a = editor_context.new_page()
        back_on_a.goto(front + "group")
        back_on_a.get_by_text("Community group editors sign in").wait_for(timeout=60_000)
        chromium.close()
