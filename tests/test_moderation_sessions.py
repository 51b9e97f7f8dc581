"""Moderation applies to the version shown; restore waits to be checked; links survive a data
refresh; sign-in sessions live server-side and end on sign-out. Real SQLite, real extract; the
store-level tests run on PostGIS too (each_store)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from layers import store
from layers.errors import BadInputError, ChangedMeanwhileError, NotAllowedError
from layers.groups import accounts, community, sessions
from tests.test_community import KAISANIEMI, PASSWORD, friends


@pytest.fixture
def people(fresh_data_dir: Path) -> dict[str, accounts.User]:
    return {
        "admin": accounts.add_user("Ada Admin", "admin", PASSWORD),
        "moderator": accounts.add_user("Mika Moderator", "moderator", PASSWORD),
        "editor": accounts.add_user("Eeva Editor", "editor", PASSWORD, group="Friends of Kaisaniemi Park"),
    }


@pytest.mark.usefixtures("each_store")
def test_an_edit_while_the_moderator_looks_stops_the_publish(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    shown = store.get_asset(asset_id).version  # what the moderator opened
    community.update_asset(
        people["editor"], asset_id, friends(description="Edited after the moderator looked"), expected_version=shown
    )
    with pytest.raises(ChangedMeanwhileError, match="changed after you opened it"):
        community.publish(people["moderator"], asset_id, expected_version=shown)
    with pytest.raises(ChangedMeanwhileError):
        community.reject(people["moderator"], asset_id, "Not like this", expected_version=shown)
    row = store.get_asset(asset_id)
    assert row.status == "pending"
    assert [h.action for h in store.asset_history(asset_id)] == ["created", "edited"]
    community.publish(people["moderator"], asset_id, expected_version=row.version)
    assert store.get_asset(asset_id).status == "published"


@pytest.mark.usefixtures("each_store")
def test_reject_needs_a_reason_and_says_so(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    with pytest.raises(BadInputError, match=r"^Reason: is required"):
        community.reject(people["moderator"], asset_id, "   ")
    with pytest.raises(NotAllowedError):
        community.reject(people["editor"], asset_id, "mine")


@pytest.mark.usefixtures("each_store")
def test_restore_makes_the_old_version_pending_again(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    community.publish(people["moderator"], asset_id)
    row = store.get_asset(asset_id)
    community.update_asset(people["moderator"], asset_id, friends(schedule="Sundays"), expected_version=row.version)
    assert store.get_asset(asset_id).status == "published"
    community.restore(people["moderator"], asset_id, 2)  # the published version with Saturdays
    restored = store.get_asset(asset_id)
    assert restored.schedule == "Saturdays 10:00"
    assert restored.status == "pending"
    assert community.published_layer().empty or "community:" + str(asset_id) not in set(
        community.published_layer()["id"]
    )


@pytest.mark.usefixtures("each_store")
def test_a_link_whose_feature_vanished_is_flagged_with_its_replacement(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    link = store.get_asset(asset_id).links[0]
    assert link.target_name == "Kaisaniemen puisto" and link.target_category == "parks"
    assert community.link_problems(store.get_asset(asset_id)) == []
    # A newer extract maps the park under another id: the stored id is no longer on the map.
    store.set_for_tests("asset_links", {"target_osm_id": 999999999999}, {"asset_id": asset_id})
    problems = community.link_problems(store.get_asset(asset_id))
    assert len(problems) == 1
    assert problems[0].replacement == KAISANIEMI
    assert "Kaisaniemen puisto" in problems[0].message
    community.publish(people["moderator"], asset_id)
    note = community.published_layer().set_index("name").loc["Friends of Kaisaniemi Park", "note"]
    assert "Cares for Kaisaniemen puisto" in note and "osm:" not in note
    # an edit keeps the vanished link (flagged), a one-click replacement mends it
    row = store.get_asset(asset_id)
    community.use_replacement(
        people["editor"], asset_id, "osm:relation/999999999999", KAISANIEMI, expected_version=row.version
    )
    assert store.get_asset(asset_id).links[0].target_osm_id == 6627217
    assert community.link_problems(store.get_asset(asset_id)) == []
    with pytest.raises(BadInputError, match="osm:way/123 is not on the loaded map"):
        community.create_asset(
            people["editor"], friends(name="Another", links=[{"relation": "cares_for", "target": "osm:way/123"}])
        )


@pytest.mark.usefixtures("each_store")
def test_sessions_live_in_the_store_and_end_on_sign_out(people: dict[str, accounts.User]) -> None:
    editor = people["editor"]
    session_id, code = sessions.start(editor)
    token = sessions.claim(code)
    assert token is not None and sessions.claim(code) is None  # a code works once
    found = sessions.from_token(token)
    assert found is not None and found.user == editor and found.id == session_id
    stored = [tuple(r.values()) for r in store.table_rows("sign_in_sessions")]
    assert not any(
        token in str(v) or code in str(v) or "Eeva" in str(v) or "editor" in str(v) for row in stored for v in row
    )
    assert hashlib.sha256(token.encode()).hexdigest() in {v for row in stored for v in row}
    assert sessions.from_token("x" * 43) is None
    # idle past the limit: gone
    assert sessions.from_token(token, now=datetime.now(UTC) + sessions.IDLE + timedelta(minutes=1)) is None
    assert sessions.from_token(token) is None
    # sign-out everywhere ends every browser's session
    ids = [sessions.start(editor)[0] for _ in range(2)]
    assert all(sessions.from_id(i) for i in ids)
    assert sessions.end_everywhere(editor.id) == 2
    assert not any(sessions.from_id(i) for i in ids)
    # an expired code is refused
    _, late = sessions.start(editor)
    assert sessions.claim(late, now=datetime.now(UTC) + sessions.CODE_TTL + timedelta(seconds=1)) is None
    assert sessions.claim(late) is not None  # in time it would have worked


@pytest.mark.usefixtures("each_store")
def test_single_sign_on_email_maps_to_the_role_an_admin_set(people: dict[str, accounts.User]) -> None:
    assert accounts.user_for_email("mika@council.example") is None
    with pytest.raises(NotAllowedError):
        accounts.set_email_as(people["editor"], people["moderator"].id, "mika@council.example")
    with pytest.raises(BadInputError):
        accounts.set_email_as(people["admin"], people["moderator"].id, "not an email")
    accounts.set_email_as(people["admin"], people["moderator"].id, "mika@council.example")
    assert accounts.user_for_email("MIKA@council.example") == people["moderator"]
    with pytest.raises(BadInputError, match="already has"):
        accounts.set_email_as(people["admin"], people["editor"].id, "mika@council.example")


def test_group_and_moderator_pages_flag_a_vanished_link_and_mend_it_in_one_click(
    people: dict[str, accounts.User],
) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    asset_id = community.create_asset(people["editor"], friends())
    # as after `load` of an extract where the park has a new id
    store.set_for_tests("asset_links", {"target_osm_id": 999999999999}, {"asset_id": asset_id})

    def run(page: str, user: accounts.User, **state: object) -> AppTest:
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
        at.session_state["user_id"] = user.id
        for key, value in state.items():
            at.session_state[key] = value
        at.switch_page(page)
        return at.run()

    at = run("views/moderate.py", people["moderator"])
    assert not at.exception
    assert any("Kaisaniemen puisto" in w.value and "no longer on the map" in w.value for w in at.warning)
    assert not any("osm:" in str(t.value.to_string()) for t in at.table)
    at = run("views/group.py", people["editor"])
    assert any("Friends of Kaisaniemi Park" in w.value and "press Change it" in w.value for w in at.warning)
    at = run("views/group.py", people["editor"], editing=asset_id)
    assert not at.exception
    assert any("no longer on the map" in w.value for w in at.warning)
    button = next(b for b in at.button if b.label.startswith("Use this instead: Kaisaniemen puisto"))
    button.click().run()
    assert not at.exception
    assert store.get_asset(asset_id).links[0].target_osm_id == 6627217
    assert community.link_problems(store.get_asset(asset_id)) == []


def test_moderator_sees_labels_dates_names_and_what_changed_since_published(people: dict[str, accounts.User]) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    asset_id = community.create_asset(people["editor"], friends())
    community.publish(people["moderator"], asset_id)
    version = store.get_asset(asset_id).version
    community.update_asset(people["editor"], asset_id, friends(schedule="Sundays 12:00"), expected_version=version)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = people["moderator"].id
    at.switch_page("views/moderate.py")
    at.run()
    assert not at.exception
    details = at.table[1].value
    details = getattr(details, "data", details)  # a Styler's frame
    rows = dict(zip(details["Field"], details["Since it was last on the map"], strict=True))
    assert rows["When you meet or open"] == "Changed ✱"
    assert {k for k, v in rows.items() if v} == {"When you meet or open"}
    values = dict(zip(details["Field"], details["Value"], strict=True))
    assert values["Link to a place"] == "Cares for Kaisaniemen puisto"
    assert "online_url" not in set(details["Field"]) and "Online community link" in set(details["Field"])
    history = at.table[2].value
    assert list(history["What"]) == ["Sent", "Published", "Changed"]
    assert all("T" not in when and "," in when for when in history["When"])  # "26 Nov 2026, 05:49"
    assert history["Fields changed"].iloc[-1] == "When you meet or open, Status"


def test_admin_sets_a_single_sign_on_email_on_the_people_page(people: dict[str, accounts.User]) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = people["admin"].id
    at.switch_page("views/people.py")
    at.run()
    person = next(s for s in at.selectbox if s.label == "Person")
    person.select(people["moderator"].id)
    next(t for t in at.text_input if t.label == "E-mail").input("mika@council.example")
    next(b for b in at.button if b.label == "Set e-mail").click().run()
    assert not at.exception
    assert any("Saved the e-mail for Mika Moderator" in s.value for s in at.success)
    assert accounts.user_for_email("mika@council.example") == people["moderator"]


def test_links_survive_a_newer_extract(people: dict[str, accounts.User]) -> None:
    """After a newer extract is loaded in which the park was mapped again under another id (and
    then deleted), the link is flagged with its replacement; residents never see a raw id."""
    import dataclasses

    from layers import catalogue
    from layers.osm import sources

    asset_id = community.create_asset(people["editor"], friends())
    community.publish(people["moderator"], asset_id)
    real = sources.current()
    remapped = real.assets.copy()
    park = remapped["id"] == KAISANIEMI
    assert park.sum() == 1
    remapped.loc[park, ["id", "osm_type", "osm_id"]] = ["osm:way/4242424242", "way", 4242424242]
    newer = dataclasses.replace(real, meta={**real.meta, "name": "Central Helsinki, newer"}, assets=remapped)
    sources.save(newer, sources.settings.data_dir() / sources.EXTRACT_DIRNAME)
    assert KAISANIEMI not in set(sources.current().assets["id"])

    problems = community.link_problems(store.get_asset(asset_id))
    assert [p.replacement for p in problems] == ["osm:way/4242424242"]
    notes = catalogue.all_assets().set_index("name")
    assert "Cares for Kaisaniemen puisto" in notes.loc["Friends of Kaisaniemi Park", "note"]
    assert not notes["note"].dropna().str.contains(r"osm:(?:node|way|relation)/").any()

    gone = dataclasses.replace(newer, assets=remapped[~park])  # then deleted altogether
    sources.save(gone, sources.settings.data_dir() / sources.EXTRACT_DIRNAME)
    problems = community.link_problems(store.get_asset(asset_id))
    assert [p.replacement for p in problems] == [None]
    assert "Kaisaniemen puisto" in problems[0].message
    note = catalogue.all_assets().set_index("name").loc["Friends of Kaisaniemi Park", "note"]
    assert "Cares for Kaisaniemen puisto" in note and "osm:" not in note


@pytest.mark.usefixtures("each_store")
def test_old_sessions_are_purged_when_someone_signs_in(people: dict[str, accounts.User]) -> None:
    began = datetime.now(UTC) - sessions.MAX_AGE - timedelta(hours=1)
    old_id, code = sessions.start(people["editor"], now=began)
    assert sessions.claim(code, now=began) is not None
    used = began
    while used < began + sessions.MAX_AGE - sessions.IDLE / 2:  # used every few hours for a week: never idle
        used += sessions.IDLE / 2
        assert sessions.from_id(old_id, now=used) is not None
    sessions.start(people["moderator"])  # now: the editor's session is past MAX_AGE, though not idle
    assert [r["user_id"] for r in store.table_rows("sign_in_sessions")] == [people["moderator"].id]


@pytest.mark.usefixtures("each_store")
def test_an_ended_sessions_id_is_never_given_to_someone_else(people: dict[str, accounts.User]) -> None:
    ended, _ = sessions.start(people["editor"])
    sessions.end(ended)
    again, _ = sessions.start(people["moderator"])
    assert again != ended and sessions.from_id(ended) is None


def test_changing_an_area_asset_keeps_its_area_until_one_is_drawn(people: dict[str, accounts.User]) -> None:
    from shapely.geometry import box
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    area = box(24.944, 60.170, 24.950, 60.173)
    asset_id = community.create_asset(people["editor"], friends(kind="area", geometry=area, links=[]))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = people["editor"].id
    at.session_state["editing"] = asset_id
    at.switch_page("views/group.py")
    at.run()
    assert not at.exception
    assert any("The area as saved" in c.value for c in at.caption)
    assert next(r for r in at.radio if r.label == "What is it?").value == "area"
    next(t for t in at.text_input if t.label == "Phone").input("+358 9 000 0000")
    next(b for b in at.button if b.label == "Save changes").click().run()
    assert not at.exception
    row = store.get_asset(asset_id)
    assert row.phone == "+358 9 000 0000" and row.kind == "area" and row.schedule == "Saturdays 10:00"
    assert row.geometry.geom_type == "Polygon"
