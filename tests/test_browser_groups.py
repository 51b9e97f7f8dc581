"""Browser journeys for groups and moderators: exactly what a group typed is stored, checked and
published; an edit made while a moderator looks stops the publish; sign-in survives a reload and
sign-out ends it. The real app in Debian's Chromium, with a real SQLite store."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from layers.settings import REPO_ROOT
from tests import browser
from tests.test_browser import PASSWORD, _choose, _data_with_people, _sign_in

pytestmark = pytest.mark.browser
SHOTS = REPO_ROOT / "docs" / "screenshots"

FIRST = {
    "Name": "Handmade Friends of the Park",
    "What you do": "We plant bulbs and pick litter together.",
    "When you meet or open (for example Saturdays 10:00-12:00)": "Saturdays 10:00-12:00",
    "Who it is for": "Everyone, children with an adult",
    "Website (https://…)": "https://example.org/friends",
    "Online community link (for an online community)": "https://chat.example.org/friends",
    "Email": "friends@example.org",
    "Phone": "+358 40 123 4567",
}
SECOND = {
    "Name": "Handmade Choir by the Cathedral",
    "What you do": "A choir for beginners.",
    "When you meet or open (for example Saturdays 10:00-12:00)": "Thursdays 18:00",
    "Who it is for": "Adults",
    "Website (https://…)": "https://example.org/choir",
    "Email": "choir@example.org",
}
STORED = {
    "Name": "name",
    "What you do": "description",
    "When you meet or open (for example Saturdays 10:00-12:00)": "schedule",
    "Who it is for": "eligibility",
    "Website (https://…)": "website",
    "Online community link (for an online community)": "online_url",
    "Email": "email",
    "Phone": "phone",
}


@contextmanager
def _in(data: Path) -> Iterator[None]:
    """Run store code of the test against the app's data folder."""
    os.environ["OURPATCH_DATA_DIR"], old = str(data), os.environ["OURPATCH_DATA_DIR"]
    try:
        yield
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old


def _rows(data: Path) -> dict[str, dict[str, Any]]:
    from layers import store

    with _in(data):
        return {r.name: r for r in store.asset_rows()}


def _click_map(page: Any, lat: float, lon: float) -> None:
    frame_el = page.wait_for_selector(browser.MAP_FRAME, timeout=60_000)
    frame = frame_el.content_frame()
    frame.wait_for_selector(".leaflet-marker-icon", timeout=60_000)
    box = frame_el.bounding_box()
    x, y = frame.evaluate(
        "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon]
    )
    page.mouse.click(box["x"] + x, box["y"] + y)


def _fill(page: Any, values: dict[str, str]) -> None:
    for label, text in values.items():
        page.get_by_label(label, exact=True).fill(text)


def _form_values(page: Any) -> dict[str, str]:
    return {label: page.get_by_label(label, exact=True).input_value() for label in STORED}


def _selected(page: Any, label: str) -> str:
    """The text a selectbox shows as chosen."""
    return str(page.get_by_label(label, exact=True).input_value())


def _wait_session_cookie(context: Any) -> dict[str, Any]:
    for _ in range(100):
        found = [c for c in context.cookies() if c["name"] == "ourpatch_session"]
        if found:
            return dict(found[0])
        context.pages[0].wait_for_timeout(200)
    raise AssertionError("no session cookie was set")


def test_group_journey_stores_exactly_what_was_typed(playwright: Any, tmp_path: Path) -> None:
    data = _data_with_people(
        tmp_path, ("Eeva Editor", "editor", "Handmade Friends"), ("Mika Moderator", "moderator", None)
    )
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        context = chromium.new_context(viewport={"width": 1400, "height": 2600})
        editor = context.new_page()
        _sign_in(editor, url, "Eeva Editor", PASSWORD)
        cookie = _wait_session_cookie(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert "Eeva" not in cookie["value"] and "editor" not in cookie["value"]
        editor.get_by_role("link", name="Your group").click()
        editor.get_by_text("Nothing yet").wait_for(timeout=60_000)

        # The first asset: a pin by clicking the map, every field filled, a link to the park.
        _click_map(editor, 60.1745, 24.9420)
        editor.get_by_text(re.compile(r"Location: 60\.174[3-6]")).wait_for(timeout=30_000)
        # The pin shows where it was put, and dragging it moves the location.
        frame_el = editor.wait_for_selector(browser.MAP_FRAME)
        frame = frame_el.content_frame()
        pin = frame.wait_for_selector(".op-pin", timeout=30_000)
        start = pin.bounding_box()
        x, y = frame.evaluate(
            "() => { const p = window.map.latLngToContainerPoint([60.1752, 24.9440]); return [p.x, p.y]; }"
        )
        box = frame_el.bounding_box()
        editor.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] - 4)
        editor.mouse.down()
        editor.mouse.move(box["x"] + x, box["y"] + y - 2, steps=12)
        editor.mouse.up()
        editor.get_by_text(re.compile(r"Location: 60\.175[0-4]")).wait_for(timeout=30_000)
        _fill(editor, FIRST)
        _choose(editor, "Link to a place", "Cares for")
        _choose(editor, "The place", "Kaisaniemen puisto (Parks and green spaces)")
        editor.get_by_role("button", name="Send for checking").click()
        editor.get_by_text(f"Thank you: {FIRST['Name']} is waiting").wait_for(timeout=30_000)
        table = editor.locator("[data-testid='stTable']").first.inner_text()
        assert FIRST["Name"] in table and "Waiting for a moderator" in table  # the list, at once
        assert "Nothing yet" not in editor.inner_text("body")

        # The second starts empty: nothing of the first shows.
        assert all(v == "" for v in _form_values(editor).values()), _form_values(editor)
        assert _selected(editor, "Link to a place") == "No link"
        assert editor.get_by_text("Location:").count() == 0
        editor.get_by_label("Find an address or place").fill("Unioninkatu 13")
        editor.get_by_label("Find an address or place").press("Enter")
        editor.get_by_text("Location: 60.1659").wait_for(timeout=30_000)
        frame = editor.wait_for_selector(browser.MAP_FRAME).content_frame()
        frame.wait_for_selector(".op-pin", timeout=30_000)  # the pin shows where the address is
        if os.environ.get("OURPATCH_SCREENSHOTS"):
            editor.wait_for_timeout(800)
            editor.screenshot(path=str(SHOTS / "group-pin-map.png"))
        _fill(editor, SECOND)
        _choose(editor, "Link to a place", "Meets at")
        _choose(editor, "The place", "Helsingin tuomiokirkko (Places of worship)")
        editor.get_by_role("button", name="Send for checking").click()
        editor.get_by_text(f"Thank you: {SECOND['Name']} is waiting").wait_for(timeout=30_000)

        rows = _rows(data)
        first, second = rows[FIRST["Name"]], rows[SECOND["Name"]]
        assert {STORED[k]: getattr(first, STORED[k]) for k in FIRST} == {STORED[k]: v for k, v in FIRST.items()}
        assert {STORED[k]: getattr(second, STORED[k]) for k in SECOND} == {STORED[k]: v for k, v in SECOND.items()}
        assert second.online_url is None and second.phone is None
        assert [(x.relation, x.target_osm_id) for x in first.links] == [("cares_for", 6627217)]
        assert [x.relation for x in second.links] == ["meets_at"]
        assert second.links[0].target_name == "Helsingin tuomiokirkko"
        lon, lat = first.geometry.x, first.geometry.y
        assert abs(lat - 60.1752) < 0.0002 and abs(lon - 24.9440) < 0.0004  # where the pin was dropped

        # Changing the first shows its stored values and link; saving stores what is on screen.
        _choose(editor, "Choose one to check or change", FIRST["Name"])
        editor.get_by_role("button", name="Change it").click()
        editor.get_by_text(f"Change {FIRST['Name']}").wait_for(timeout=30_000)
        expect(editor.get_by_label("Name", exact=True)).to_have_value(FIRST["Name"], timeout=30_000)
        assert _form_values(editor) == {k: FIRST.get(k, "") for k in STORED}
        assert _selected(editor, "Link to a place") == "Cares for"
        assert _selected(editor, "The place") == "Kaisaniemen puisto (Parks and green spaces)"
        editor.get_by_label("Website (https://…)", exact=True).fill("https://example.org/friends-of-the-park")
        editor.get_by_role("button", name="Save changes").click()
        editor.get_by_text(f"Saved {FIRST['Name']}").wait_for(timeout=30_000)
        changed = _rows(data)
        assert changed[FIRST["Name"]].website == "https://example.org/friends-of-the-park"
        expected = {**{STORED[k]: v for k, v in FIRST.items()}, "website": "https://example.org/friends-of-the-park"}
        assert {k: getattr(changed[FIRST["Name"]], k) for k in expected} == expected
        assert [(x.relation, x.target_osm_id) for x in changed[FIRST["Name"]].links] == [("cares_for", 6627217)]
        assert changed[SECOND["Name"]].version == second.version  # the other one untouched

        # A reload keeps the editor signed in (the cookie), with no password or role in the browser.
        editor.reload()
        editor.get_by_text("Your assets").wait_for(timeout=60_000)
        storage = editor.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
        assert "Eeva" not in storage and PASSWORD not in storage
        second_tab = context.new_page()
        second_tab.goto(url + "group")
        second_tab.get_by_text("Your assets").wait_for(timeout=60_000)
        second_tab.close()

        # A moderator publishes; a resident's popup shows exactly those values.
        moderator = chromium.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        _sign_in(moderator, url, "Mika Moderator", PASSWORD)
        moderator.get_by_role("link", name="Moderate").click()
        _choose(moderator, "Look at", f"{FIRST['Name']} — Handmade Friends")
        details = moderator.locator("[data-testid='stTable']").nth(1)
        details.get_by_text("Cares for Kaisaniemen puisto").wait_for(timeout=30_000)
        text = details.inner_text()
        assert "Online community link" in text and "online_url" not in text
        assert "osm:" not in text and "Changed ✱" not in text and "New" in text
        assert moderator.locator(browser.MAP_FRAME).count() == 1
        assert "T0" not in moderator.locator("[data-testid='stTable']").nth(2).inner_text()  # no ISO times
        if os.environ.get("OURPATCH_SCREENSHOTS"):
            moderator.wait_for_timeout(1500)
            moderator.screenshot(path=str(SHOTS / "moderate.png"))
        moderator.get_by_role("button", name="Publish").click()
        moderator.get_by_text(f"Published: residents now see {FIRST['Name']}").wait_for(timeout=30_000)

        resident = chromium.new_context(viewport={"width": 1400, "height": 1800}).new_page()
        resident.goto(url)
        frame = browser.wait_for_map(resident)
        frame.evaluate(
            """(name) => { for (const el of document.querySelectorAll('.leaflet-marker-icon'))
                                        if (el.title === name) { el.click(); return; }
                                      throw new Error('no marker'); }""",
            FIRST["Name"],
        )
        popup = frame.wait_for_selector(".op-popup").inner_text()
        for value in (
            "https://example.org/friends-of-the-park",
            "Cares for Kaisaniemen puisto",
            FIRST["What you do"],
            "Meets: Saturdays 10:00-12:00",
            "For: Everyone, children with an adult",
            "Online: https://chat.example.org/friends",
            "+358 40 123 4567",
        ):
            assert value in popup, (value, popup)
        assert "osm:" not in popup and SECOND["Name"] not in popup

        # Sign-out ends the session in the store and in this browser; a reload stays signed out.
        editor.goto(url + "signin")
        editor.get_by_role("button", name="Sign out", exact=True).click()
        editor.get_by_text("You are signed out").wait_for(timeout=30_000)
        editor.wait_for_timeout(1000)
        assert not [c for c in context.cookies() if c["name"] == "ourpatch_session"]
        editor.goto(url + "group")
        editor.get_by_text("Community group editors sign in").wait_for(timeout=60_000)
        from layers import store

        with _in(data):
            eeva = store.find_user(name="Eeva Editor")
            assert eeva is not None
            assert [r for r in store.table_rows("sign_in_sessions") if r["user_id"] == eeva.id] == []
        chromium.close()


def test_an_edit_while_the_moderator_looks_stops_the_publish(playwright: Any, tmp_path: Path) -> None:
    from shapely.geometry import Point

    from layers import store
    from layers.groups import accounts, community

    def toddlers(description: str) -> dict[str, Any]:
        return {"name": "Handmade Toddler Group", "geometry": Point(24.95, 60.17), "description": description}

    data = _data_with_people(
        tmp_path, ("Eeva Editor", "editor", "Handmade Friends"), ("Mika Moderator", "moderator", None)
    )
    with _in(data):  # on the map already; then the group sends a change
        editor = accounts.get_user(store.find_user(name="Eeva Editor").id)  # type: ignore[union-attr]
        moderator_account = accounts.get_user(store.find_user(name="Mika Moderator").id)  # type: ignore[union-attr]
        asset_id = community.create_asset(editor, toddlers("Songs for toddlers."))
        community.publish(moderator_account, asset_id)
        community.update_asset(editor, asset_id, toddlers("Songs and stories for toddlers."), expected_version=2)
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        moderator = chromium.new_context(viewport={"width": 1400, "height": 1500}).new_page()
        _sign_in(moderator, url, "Mika Moderator", PASSWORD)
        moderator.get_by_role("link", name="Moderate").click()
        moderator.get_by_text("Songs and stories for toddlers.").wait_for(timeout=60_000)
        moderator.get_by_text("Publish and Reject apply to version 3").wait_for(timeout=30_000)
        details = moderator.locator("[data-testid='stTable']").nth(1).inner_text()
        assert "Changed ✱" in details  # What you do differs from what residents see
        with _in(data):  # the group changes it again while the moderator is looking
            community.update_asset(editor, asset_id, toddlers("Text the moderator never saw."), expected_version=3)
        moderator.get_by_role("button", name="Publish").click()
        moderator.get_by_text("changed after you opened it").wait_for(timeout=30_000)
        moderator.get_by_text("Text the moderator never saw.").wait_for(timeout=30_000)  # the new version shown
        with _in(data):
            assert store.get_asset(asset_id).status == "pending"
            assert [h.action for h in store.asset_history(asset_id)][-1] == "edited"
        moderator.get_by_text("Publish and Reject apply to version 4").wait_for(timeout=30_000)
        if os.environ.get("OURPATCH_SCREENSHOTS"):
            moderator.wait_for_timeout(1500)
            moderator.screenshot(path=str(SHOTS / "moderate-changed-meanwhile.png"), full_page=True)
        moderator.get_by_role("button", name="Publish").click()  # now of the version shown
        moderator.get_by_text("Published: residents now see Handmade Toddler Group").wait_for(timeout=30_000)
        with _in(data):
            row = store.get_asset(asset_id)
            assert row.status == "published" and row.description == "Text the moderator never saw."
        chromium.close()


def test_council_single_sign_on_gets_the_role_an_admin_gave_the_email(playwright: Any, tmp_path: Path) -> None:
    """st.login against a local OpenID Connect provider (oidc-provider-mock), configured in a
    secrets.toml of the test's own; the e-mail maps to the account an admin gave it."""
    import secrets

    from oidc_provider_mock import User, run_server_in_thread

    from layers import store
    from layers.groups import accounts

    data = _data_with_people(tmp_path, ("Ada Admin", "admin", None), ("Mika Moderator", "moderator", None))
    with _in(data):
        admin = accounts.get_user(store.find_user(name="Ada Admin").id)  # type: ignore[union-attr]
        moderator = store.find_user(name="Mika Moderator")
        assert moderator is not None
        accounts.set_email_as(admin, moderator.id, "mika@council.example")
    council = [
        User(
            sub="mika-at-council", claims={"email": "mika@council.example", "email_verified": True, "name": "Mika M."}
        ),
        User(sub="stranger", claims={"email": "stranger@council.example", "email_verified": True}),
    ]
    port = browser.free_port()
    with run_server_in_thread(port=0, user_claims=council) as provider:
        secrets_file = tmp_path / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
            'client_id = "our-patch-test"\n'
            f'client_secret = "{secrets.token_urlsafe(16)}"\n'
            f'server_metadata_url = "http://localhost:{provider.server_port}/.well-known/openid-configuration"\n'
        )
        with browser.running_app(data, port=port, args=("--secrets.files", str(secrets_file))) as url:
            chromium = browser.launch(playwright)
            page = chromium.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            page.goto(url + "signin")
            page.get_by_role("button", name="Use your council account (single sign-on)").click()
            page.get_by_role("button", name="mika-at-council").click(timeout=60_000)  # the provider's page
            page.wait_for_url(f"{url}**", timeout=60_000)
            page.goto(url + "signin")
            page.get_by_text("Signed in as Mika Moderator (moderator)").wait_for(timeout=60_000)
            page.goto(url + "moderate")
            page.get_by_text("Check what groups have sent").wait_for(timeout=60_000)
            page.get_by_text("Nothing here").wait_for(timeout=60_000)  # a moderator's page, not an invitation
            page.goto(url + "signin")
            page.get_by_role("button", name="Sign out", exact=True).click()
            page.wait_for_url(lambda u: not u.startswith(url + "signin"), timeout=60_000)  # to the provider
            page.goto(url + "moderate")
            page.get_by_text("Moderators and planners sign in").wait_for(timeout=60_000)

            other = chromium.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            other.goto(url + "signin")
            other.get_by_role("button", name="Use your council account (single sign-on)").click()
            other.get_by_role("button", name="stranger").click(timeout=60_000)
            other.wait_for_url(f"{url}**", timeout=60_000)
            other.goto(url + "signin")
            other.get_by_text("has no role here yet").wait_for(timeout=60_000)
            other.goto(url + "moderate")
            other.get_by_text("Moderators and planners sign in").wait_for(timeout=60_000)
            chromium.close()


def test_sign_out_leaves_nothing_of_the_person_on_compare(playwright: Any, tmp_path: Path) -> None:
    from tests.test_browser import SENATE_SQUARE_AND_ESPLANADI

    data = _data_with_people(tmp_path, ("Pia Planner", "planner", None))
    with browser.running_app(data) as url:
        chromium = browser.launch(playwright)
        context = chromium.new_context(viewport={"width": 1400, "height": 1900})
        page = context.new_page()
        _sign_in(page, url, "Pia Planner", PASSWORD)
        _wait_session_cookie(context)
        page.get_by_role("link", name="Explore the map").click()
        browser.wait_for_map(page)
        browser.draw_polygon(page, SENATE_SQUARE_AND_ESPLANADI)
        page.get_by_text("What is inside your local").wait_for(timeout=60_000)
        page.get_by_label("Name your local").fill("Planner's private local")
        page.get_by_role("button", name="Save and get a private link").click()
        token = page.locator("[data-testid='stCode']").first.inner_text(timeout=30_000).split("?local=")[1].strip()
        page.get_by_role("link", name="Compare two locals").click()
        expect(page.get_by_label("Second local (B)")).to_have_value(f"?local={token}", timeout=30_000)
        page.get_by_role("link", name="Sign in").click()
        page.get_by_role("button", name="Sign out", exact=True).click()
        page.get_by_text("You are signed out").wait_for(timeout=30_000)
        page.get_by_role("link", name="Compare two locals").click()
        page.get_by_text("Set two saved locals side by side").wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        assert page.get_by_label("Second local (B)").input_value() == ""
        assert token not in page.inner_text("body") and token not in page.url
        chromium.close()
