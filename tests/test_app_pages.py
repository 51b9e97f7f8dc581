"""AppTest smoke tests: every page renders without an exception and says what a user expects."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from layers.osm import sources
from layers.settings import REPO_ROOT
from tests.app_tables import card_tables

APP = str(REPO_ROOT / "app.py")


def _run(page: str | None = None, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    if page:
        at.switch_page(page)
    return at.run()


def test_explore_page_renders_the_map_and_invites_drawing() -> None:
    at = _run()
    assert not at.exception
    assert at.title[0].value == "Explore your patch"
    assert any("No local yet" in i.value for i in at.info)
    assert any("OpenStreetMap contributors" in c.value for c in at.caption)


def test_explore_page_lists_what_is_inside_a_chosen_local() -> None:
    senate = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"radius": 350},
                "geometry": {"type": "Point", "coordinates": [24.9522, 60.1693]},
            }
        ],
    }
    at = _run(drawn=senate)
    assert not at.exception
    table = card_tables(at)[0]
    assert "Helsingin tuomiokirkko" in set(table["Name"])
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Places inside"]) == len(table)
    assert any("Places of worship:" in c.value for c in at.caption)


def test_no_map_chooser_builds_a_local_from_a_place_and_distance() -> None:
    at = _run()
    assert not at.selectbox and not at.number_input  # folded: its widgets are not built
    at = _run(list_open=True)  # as after a click on the folded section
    form_select = at.selectbox[0]
    cathedral_id = next(o for o in form_select.options if "Helsingin tuomiokirkko" in o)
    form_select.select(cathedral_id)
    at.number_input[0].set_value(300)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert "Helsingin tuomiokirkko" in set(card_tables(at)[0]["Name"])


def test_about_page() -> None:
    at = _run("views/about.py")
    assert not at.exception
    assert at.title[0].value == "About the data"
    assert any("Open Database Licence" in m.value for m in at.markdown)


def test_damaged_data_shows_a_clear_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    (tmp_path / "extract").mkdir()
    (tmp_path / "extract" / "meta.json").write_text(json.dumps({"format_version": sources.FORMAT_VERSION}))
    (tmp_path / "extract" / "assets.parquet").write_bytes(b"garbage")
    at = _run()
    assert not at.exception
    assert any("could not be loaded" in e.value and "damaged" in e.value for e in at.error)


def test_walk_time_local_from_an_address_with_what_is_missing_then_saved_and_reopened() -> None:
    at = _run(walk_open=True)  # the folded section, opened
    at.text_input(key="start_query").input("Unioninkatu 29").run()
    at.button(key="start_here").click().run()
    at.slider(key="walk_minutes").set_value(10).run()
    assert not at.exception
    names = set(card_tables(at)[0]["Name"])
    assert "Helsingin tuomiokirkko" in names
    assert any(s.value == "What is missing" for s in at.subheader)
    missing = card_tables(at)[1]
    assert "Category" in missing.columns and len(missing) >= 1
    name_box = next(t for t in at.text_input if t.label == "Name your local")
    name_box.input("Near the cathedral")
    next(b for b in at.button if b.label == "Save and get a private link").click().run()
    assert not at.exception
    link = at.code[0].value
    token = link.split("local=")[1]
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["local"] = token
    again.run()
    assert not again.exception
    assert set(card_tables(again)[0]["Name"]) == names
    assert again.slider(key="walk_minutes").value == 10


def test_a_bad_share_link_says_so() -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["local"] = "not-a-real-token-at-all-xyz"
    at.run()
    assert not at.exception
    assert any("does not open a saved local" in e.value for e in at.error)


def test_find_page_searches_services_and_places_and_starts_a_walk() -> None:
    at = _run("views/find.py")
    assert not at.exception
    at.text_input(key="find_text").input("kirjasto").run()
    assert not at.exception
    assert "Kansalliskirjasto" in set(card_tables(at)[0]["Name"])
    at.text_input(key="find_text").input("Kaisaniemi").run()
    assert "Kaisaniemi" in set(at.table[-1].value["Name"])
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["walk_start"] is not None


def test_compare_page_sets_two_saved_locals_side_by_side() -> None:
    from layers import areas as area_mod
    from layers.analysis import local_spec as local_mod

    a = area_mod.circle(24.9470, 60.1735, 300)
    b = area_mod.circle(24.9520, 60.1690, 300)
    ta = local_mod.save("Handmade A", local_mod.LocalSpec().to_json(), a.wkt)
    tb = local_mod.save("Handmade B", local_mod.LocalSpec().to_json(), b.wkt)
    at = _run("views/compare.py")
    assert any("two are needed" in i.value for i in at.info)
    at.text_input(key="compare_a").input(f"http://localhost:8501/?local={ta}")
    at.text_input(key="compare_b").input(tb).run()
    assert not at.exception
    counts = at.table[0].value
    assert [c.replace("\\", "") for c in counts.columns] == [
        "Category",
        "A: Handmade A",
        "B: Handmade B",
    ]  # shown escaped
    assert any(m.label == "Places in both" for m in at.metric)


def test_a_map_without_streets_still_lists_and_says_what_is_missing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from layers.analysis import access, search

    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    base = sources.current()
    no_streets = sources.Extract(
        assets=base.assets,
        basemap=base.basemap,
        meta=base.meta,
        network=access.network_table(None, None),
        gazetteer=search.empty_gazetteer(),
    )
    sources.save(no_streets, tmp_path / sources.EXTRACT_DIRNAME)
    senate = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"radius": 300},
                "geometry": {"type": "Point", "coordinates": [24.9522, 60.1693]},
            }
        ],
    }
    at = _run(drawn=senate)
    assert not at.exception
    assert "Helsingin tuomiokirkko" in set(card_tables(at)[0]["Name"])
    assert any(s.value == "What is missing" for s in at.subheader)


def test_sign_in_then_saved_locals_are_listed_for_that_person(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from layers.groups import accounts

    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    accounts.add_user("Pia Planner", "planner", "a long enough password")
    at = _run("views/signin.py")
    at.text_input[0].input("Pia Planner")
    at.text_input[1].input("wrong password here")
    at.button[0].click().run()
    assert any("do not match" in e.value for e in at.error)
    at.text_input[1].input("a long enough password")
    at.button[0].click().run()
    assert not at.exception
    assert any("Signed in as Pia Planner (planner)" in s.value for s in at.success)
    senate = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"radius": 300},
                "geometry": {"type": "Point", "coordinates": [24.9522, 60.1693]},
            }
        ],
    }
    at.session_state["drawn"] = senate
    at.switch_page("views/explore.py").run()
    next(t for t in at.text_input if t.label == "Name your local").input("Pia's *office* [walk]")
    next(b for b in at.button if b.label == "Save and get a private link").click().run()
    assert not at.exception
    listing = next(m.value for m in at.markdown if "?local=" in m.value)
    assert "Pia" in listing and "\\*office\\*" in listing  # user text cannot become markdown


def test_group_and_moderate_pages(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from shapely.geometry import Point

    from layers import store
    from layers.groups import accounts, community

    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    for page in ("views/group.py", "views/moderate.py"):
        at = _run(page)
        assert not at.exception
        assert any("sign in" in i.value.lower() for i in at.info)
    editor = accounts.add_user("Eeva Editor", "editor", "a long enough password", group="Handmade Group")
    moderator = accounts.add_user("Mika Moderator", "moderator", "a long enough password")
    asset_id = community.create_asset(editor, {"name": "Handmade Toddlers", "geometry": Point(24.95, 60.17)})
    at = _run("views/group.py", user_id=editor.id)
    assert not at.exception
    assert "Handmade Toddlers" in set(at.table[0].value["Name"])
    assert any(b.label == "Send for checking" for b in at.button)
    at = _run("views/moderate.py", user_id=moderator.id)
    assert not at.exception
    next(b for b in at.button if b.label == "Publish").click().run()
    assert not at.exception
    assert store.get_asset(asset_id).status == "published"


def test_people_page_is_for_admins(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from layers.groups import accounts

    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    admin = accounts.add_user("Ada Admin", "admin", "a long enough password")
    planner = accounts.add_user("Pia Planner", "planner", "a long enough password")
    assert any("Admins sign in" in i.value for i in _run("views/people.py", user_id=planner.id).info)
    at = _run("views/people.py", user_id=admin.id)
    assert set(at.table[0].value["Name"]) == {"Ada Admin", "Pia Planner"}
    at.text_input[0].input("Olli Other")
    at.text_input[1].input("")
    at.text_input[2].input("a long enough password")
    at.button[0].click().run()
    assert not at.exception
    assert any("Added Olli Other (admin)" in s.value for s in at.success)
    with __import__("pytest").raises(Exception, match="Only an admin"):
        accounts.list_people(planner)


def test_user_text_in_messages_cannot_become_markdown(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from views.common import md

    assert md("[click](javascript:alert(1))") == "\\[click\\]\\(javascript\\:alert\\(1\\)\\)"
    assert md("**bold** <b>x</b>") == "\\*\\*bold\\*\\* \\<b\\>x\\</b\\>"


def test_planners_page(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from layers.groups import accounts

    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    at = _run("views/planners.py")
    assert any("planners sign in" in i.value.lower() for i in at.info)
    planner = accounts.add_user("Pia Planner", "planner", "a long enough password")
    at = _run("views/planners.py", user_id=planner.id)
    assert not at.exception
    crs = at.selectbox(key="export_crs")
    assert crs.value == "EPSG:3067" and "fits this map" in crs.format_func(crs.value)  # proposed for Helsinki
    at.button[0].click().run()
    assert not at.exception
    labels = [b.label for b in at.get("download_button")]
    assert "Download our-patch.gpkg" in labels
    assert "Download coverage-gap.gpkg (EPSG:3067)" in labels  # the gap download honours the chosen CRS
    share = next(m for m in at.metric if m.label.startswith("Share of the map more than 10 minutes"))
    assert share.value.endswith("%")
    at.selectbox(key="export_crs").set_value("EPSG:27700").run()
    at.button(key="export_go").click().run()
    assert any("outside the area EPSG:27700" in e.value.replace("\\", "") for e in at.error)
    at.checkbox(key="export_outside").check().run()
    at.button(key="export_go").click().run()
    assert not at.error
    assert any("outside the area" in w.value for w in at.warning)
