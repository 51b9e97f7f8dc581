"""The community store: migrations, and published assets joining the layers."""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import Point

from layers import catalogue, geojson, query, store
from tests.handmade import add_published_handmade_asset


def test_migrations_apply_once_and_a_second_run_is_a_no_op(fresh_data_dir: Path) -> None:
    with store.connect() as db:
        assert store.schema_version(db) == len(store.MIGRATIONS)
        assert "community_assets" in db.table_names()
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store.connect() as db:
        assert store.migrate(db) == len(store.MIGRATIONS)


def test_only_published_community_assets_are_shown(fresh_data_dir: Path) -> None:
    add_published_handmade_asset("Handmade Friends of Esplanadi", Point(24.9500, 60.1677))
    with store.connect() as db:
        db.table("community_assets").insert({"name": "Handmade pending group", "category": "community_groups",
                                             "geometry_wkt": Point(24.9501, 60.1677).wkt, "status": "pending"})
    assets = catalogue.all_assets()
    names = set(assets["name"].dropna())
    assert "Handmade Friends of Esplanadi" in names
    assert "Handmade pending group" not in names
    found = query.AssetIndex(assets).within(Point(24.9500, 60.1677).buffer(0.001), ["community_groups"])
    fc = geojson.feature_collection(found)
    props = fc["features"][0]["properties"]
    assert props["source"] == "community" and props["id"].startswith("community:")
    assert "osm_type" not in props and "osm_id" not in props


def test_version_changes_when_the_store_changes(fresh_data_dir: Path) -> None:
    catalogue.all_assets()
    before = catalogue.version()
    add_published_handmade_asset("Handmade group", Point(24.95, 60.17))
    assert catalogue.version() != before
