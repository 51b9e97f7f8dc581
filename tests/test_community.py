"""Community assets: checked at the door, permissions in layers/, moderation, history, links.
Every test here runs on SQLite and on PostGIS (the `people` fixture asks for each_store)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from shapely.geometry import Point, box, mapping

from layers import catalogue, store
from layers.analysis import query
from layers.errors import BadInputError, NotAllowedError
from layers.groups import accounts, community

PASSWORD = "a long enough password"
KAISANIEMI = "osm:relation/6627217"


@pytest.fixture
def people(each_store: str) -> dict[str, accounts.User]:
    return {
        "admin": accounts.add_user("Ada Admin", "admin", PASSWORD),
        "moderator": accounts.add_user("Mika Moderator", "moderator", PASSWORD),
        "planner": accounts.add_user("Pia Planner", "planner", PASSWORD),
        "editor": accounts.add_user("Eeva Editor", "editor", PASSWORD, group="Friends of Kaisaniemi Park"),
        "other": accounts.add_user("Olli Other", "editor", PASSWORD, group="Handmade Other Group"),
    }


def friends(**extra: object) -> dict[str, object]:
    return {
        "name": "Friends of Kaisaniemi Park",
        "category": "community_groups",
        "kind": "place",
        "geometry": Point(24.9462, 60.1752),
        "schedule": "Saturdays 10:00",
        "website": "https://example.org/fokp",
        "links": [{"relation": "cares_for", "target": KAISANIEMI}],
        **extra,
    }


def test_editor_adds_pending_moderator_publishes_resident_sees_it(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    assert [r.id for r in community.visible_assets(None)] == []
    assert [r.id for r in community.visible_assets(people["editor"])] == [asset_id]
    assert [r.id for r in community.visible_assets(people["planner"], status="pending")] == [asset_id]
    community.publish(people["moderator"], asset_id)
    assert [r.id for r in community.visible_assets(None)] == [asset_id]
    assets = catalogue.all_assets()
    mine = assets[assets["id"] == f"community:{asset_id}"].iloc[0]
    assert mine["source"] == "community"
    assert "Cares for Kaisaniemen puisto" in mine["note"] and "Saturdays" in mine["note"]
    park = assets[assets["id"] == KAISANIEMI].iloc[0]
    assert "Cared for by Friends of Kaisaniemi Park" in park["note"]
    found = query.AssetIndex(assets).within(box(24.940, 60.172, 24.951, 60.178))
    assert f"community:{asset_id}" in set(found["id"])


def test_editors_cannot_publish_or_touch_other_groups(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    with pytest.raises(NotAllowedError):
        community.publish(people["editor"], asset_id)
    with pytest.raises(NotAllowedError):
        community.update_asset(people["other"], asset_id, friends(name="Taken over"), expected_version=1)
    with pytest.raises(NotAllowedError):
        community.verify(people["other"], asset_id)
    with pytest.raises(NotAllowedError):
        community.create_asset(people["editor"], friends(), group="Handmade Other Group")
    with pytest.raises(NotAllowedError):
        community.create_asset(people["editor"], friends(), publish=True)
    with pytest.raises(NotAllowedError):
        community.create_asset(people["planner"], friends(), group="Friends of Kaisaniemi Park")
    with pytest.raises(NotAllowedError):
        community.create_asset(None, friends(), group="Friends of Kaisaniemi Park")
    with pytest.raises(NotAllowedError):
        community.restore(people["editor"], asset_id, 1)
    assert store.get_asset(asset_id).status == "pending"


def test_rejection_reason_history_restore_and_conflict(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    community.reject(people["moderator"], asset_id, "Please add when you meet.")
    row = store.get_asset(asset_id)
    assert row.status == "rejected" and row.rejection_reason == "Please add when you meet."
    version = row.version
    community.update_asset(
        people["editor"], asset_id, friends(schedule="Saturdays 10:00-12:00"), expected_version=version
    )
    with pytest.raises(store.ConflictError):  # a second editor still holding the old version
        community.update_asset(people["editor"], asset_id, friends(schedule="Sundays"), expected_version=version)
    community.publish(people["moderator"], asset_id)
    history = store.asset_history(asset_id)
    assert [h.action for h in history] == ["created", "rejected", "edited", "published"]
    assert history[2].changed_by == "Eeva Editor"
    community.restore(people["moderator"], asset_id, 1)
    restored = store.get_asset(asset_id)
    assert restored.schedule == "Saturdays 10:00" and restored.status == "pending"
    assert restored.links[0].target_osm_id == 6627217


def test_freshness(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    row = store.get_asset(asset_id)
    assert not community.is_stale(row)
    assert community.is_stale(row, today=date.today() + timedelta(days=400))
    store.set_for_tests("community_assets", {"last_verified": "2020-01-01", "status": "published"}, {"id": asset_id})
    assert "Not checked since 2020-01-01" in catalogue.all_assets().set_index("id").loc[f"community:{asset_id}", "note"]
    community.verify(people["editor"], asset_id)
    assert not community.is_stale(store.get_asset(asset_id))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "Name"),
        ({"name": "x" * 10_000}, "Name"),
        ({"name": "bad\x00name"}, "Name"),
        ({"website": "javascript:alert(1)"}, "Website"),
        ({"website": "ftp://example.org"}, "Website"),
        ({"email": "not-an-email"}, "Email"),
        ({"phone": "<script>"}, "Phone"),
        ({"category": "pubs"}, "Category"),
        ({"kind": "spaceship"}, "Kind"),
        ({"geometry": None}, "Location"),
        ({"geometry": Point(200, 95)}, "Location"),
        ({"geometry": Point(float("nan"), 60)}, "Location"),
        ({"kind": "area", "geometry": Point(24.9, 60.1)}, "Location"),
        (
            {
                "kind": "area",
                "geometry": mapping(box(0, 0, 1, 1)) | {"coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            },
            "self-intersecting",
        ),
        ({"kind": "online", "geometry": box(24.94, 60.17, 24.95, 60.18)}, "Online url"),
        ({"links": [{"relation": "owns", "target": KAISANIEMI}]}, "Links"),
        ({"links": [{"relation": "cares_for", "target": "drop table"}]}, "Links"),
        ({"description": "x" * 5000}, "Description"),
    ],
)
def test_bad_fields_get_one_sentence_naming_the_field(
    people: dict[str, accounts.User], change: dict[str, object], field: str
) -> None:
    with pytest.raises(BadInputError, match=field):
        community.create_asset(people["editor"], friends(**change))
    assert store.asset_rows() == []


def test_hostile_text_is_stored_as_text(people: dict[str, accounts.User]) -> None:
    name = "<img src=x onerror=alert(1)>"
    asset_id = community.create_asset(people["moderator"], friends(name=name), group="Handmade Group", publish=True)
    assert store.get_asset(asset_id).name == name


def test_similar_names_nearby(people: dict[str, accounts.User]) -> None:
    assets = catalogue.all_assets()
    assert "Kaisaniemen puisto" in community.similar_nearby("Kaisaniemen Puisto", Point(24.9461, 60.1750), assets)
    assert community.similar_nearby("Kaisaniemen puisto", Point(24.90, 60.10), assets) == []


def test_history_says_what_changed(people: dict[str, accounts.User]) -> None:
    asset_id = community.create_asset(people["editor"], friends())
    community.update_asset(people["editor"], asset_id, friends(schedule="Sundays 12:00"), expected_version=1)
    entries = community.history(people["editor"], asset_id)
    assert entries[0].changed == () and entries[1].changed == ("schedule",)
    assert entries[1].who == "Eeva Editor"
    assert entries[0].asset.schedule == "Saturdays 10:00" and entries[1].asset.schedule == "Sundays 12:00"
    with pytest.raises(NotAllowedError):  # a history holds unpublished versions: not for residents
        community.history(None, asset_id)
    with pytest.raises(NotAllowedError):
        community.history(people["other"], asset_id)


def test_links_between_community_assets_show_at_both_ends(people: dict[str, accounts.User]) -> None:
    hall = community.create_asset(
        people["moderator"], friends(name="Handmade Hall", links=[]), group="Handmade Group", publish=True
    )
    club = community.create_asset(
        people["moderator"],
        friends(name="Handmade Club", links=[{"relation": "meets_at", "target": f"community:{hall}"}]),
        group="Handmade Group",
        publish=True,
    )
    notes = catalogue.all_assets().set_index("id")["note"]
    assert "Meets at Handmade Hall" in notes[f"community:{club}"]
    assert "Meeting place of Handmade Club" in notes[f"community:{hall}"]


def test_published_assets_within_an_area_come_from_the_store_query(people: dict[str, accounts.User]) -> None:
    near = community.create_asset(
        people["moderator"], friends(name="Handmade Near"), group="Handmade Group", publish=True
    )
    community.create_asset(people["editor"], friends(name="Handmade Pending Near"))  # pending: not for everyone
    community.create_asset(
        people["moderator"],
        friends(name="Handmade Far", geometry=Point(24.99, 60.20), links=[]),
        group="Handmade Group",
        publish=True,
    )
    assert community.published_within(box(24.940, 60.172, 24.951, 60.178)) == [near]
    assert community.published_within(box(24.0, 59.0, 24.1, 59.1)) == []


def test_pending_assets_leave_the_app_only_for_planners_moderators_and_admins(people: dict[str, accounts.User]) -> None:
    from layers.io import export

    asset_id = community.create_asset(people["editor"], friends(name="Handmade Pending Friends"))
    for who in (None, people["editor"]):
        with pytest.raises(NotAllowedError):
            export.select(["community_groups"], include_pending=True, user=who)
    chosen = export.select(["community_groups"], include_pending=True, user=people["planner"])
    pending = chosen[chosen["id"] == f"community:{asset_id}"]
    assert list(pending["status"]) == ["pending"] and "PENDING" in pending["note"].iloc[0]
    assert f"community:{asset_id}" not in set(export.select(None)["id"])
