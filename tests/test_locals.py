"""Locals as specs: combine, save and reopen by private token, compare, what is missing, search."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, box, mapping

from layers.analysis import access, gaps, local_spec, query, search
from layers.errors import BadInputError
from layers.osm import sources

NEAR_KAISANIEMI = (24.9470, 60.1735)
DRAWN = {
    "type": "FeatureCollection",
    "features": [{"type": "Feature", "properties": {}, "geometry": mapping(box(24.9480, 60.1700, 24.9530, 60.1740))}],
}


@pytest.fixture(scope="module")
def networks(helsinki: sources.Extract) -> dict[str, access.StreetNetwork]:
    return {m: access.StreetNetwork(helsinki.network, access.mode_by_id(m)) for m in access.load_modes()}


def test_combining_a_walk_and_a_drawing(networks: dict[str, access.StreetNetwork]) -> None:
    walk = local_spec.WalkSpec(*NEAR_KAISANIEMI, 10)
    by = networks.__getitem__
    walk_only = local_spec.resolve(local_spec.LocalSpec(drawn=DRAWN, walk=walk, combine="walk"), by)
    drawn_only = local_spec.resolve(local_spec.LocalSpec(drawn=DRAWN, walk=walk, combine="drawn"), by)
    union = local_spec.resolve(local_spec.LocalSpec(drawn=DRAWN, walk=walk, combine="union"), by)
    both = local_spec.resolve(local_spec.LocalSpec(drawn=DRAWN, walk=walk, combine="intersection"), by)
    assert walk_only and drawn_only and union and both
    assert union.area.area >= max(walk_only.area.area, drawn_only.area.area) * (1 - 1e-9)
    assert both.area.area <= min(walk_only.area.area, drawn_only.area.area) * (1 + 1e-9)
    assert local_spec.resolve(local_spec.LocalSpec(), by) is None


def test_spec_round_trips_through_json_and_refuses_junk() -> None:
    spec = local_spec.LocalSpec(
        drawn=DRAWN,
        walk=local_spec.WalkSpec(*NEAR_KAISANIEMI, 15.0, "wheelchair"),
        combine="intersection",
        hidden=("toilets",),
    )
    assert local_spec.LocalSpec.from_json(spec.to_json()).to_json() == spec.to_json()
    for junk in [
        "[]",
        '{"walk": {"lon": 1}}',
        '{"combine": "xor"}',
        '{"hidden": ["pubs"]}',
        '{"walk": {"lon": 24.9, "lat": 60.1, "minutes": 500, "mode": "walk"}}',
        "not json",
    ]:
        with pytest.raises(BadInputError):
            local_spec.LocalSpec.from_json(junk)


SMALL_AREA = "POLYGON ((24.95 60.17, 24.96 60.17, 24.96 60.18, 24.95 60.17))"


def test_saved_locals_are_private_tokens(fresh_data_dir: Path) -> None:
    token = local_spec.save("  Home and   the park ", '{"combine":"union"}', SMALL_AREA)
    assert len(token) >= 24
    saved = local_spec.saved(token)
    assert saved is not None and saved.name == "Home and the park"
    assert saved.area is not None and saved.area.equals(shapely.from_wkt(SMALL_AREA))
    assert local_spec.saved("x" * 24) is None
    assert local_spec.saved("'; drop table saved_locals; --") is None
    other = local_spec.save("Another", "{}", SMALL_AREA)
    assert other != token
    with pytest.raises(BadInputError):
        local_spec.save("   ", "{}", SMALL_AREA)
    with pytest.raises(BadInputError):
        local_spec.save("x" * 10_000, "{}", SMALL_AREA)


def test_missing_categories_come_with_the_nearest_by_walking(
    helsinki_index: query.AssetIndex, networks: dict[str, access.StreetNetwork]
) -> None:
    area = access.isochrone(networks["walk"], *NEAR_KAISANIEMI, 5).area
    summary = query.summarise(helsinki_index, area)
    missing = gaps.missing_with_nearest(helsinki_index, summary, NEAR_KAISANIEMI, networks["walk"])
    empty = set(summary.counts().query("count == 0")["category"])
    assert {m.category for m in missing} == empty
    found = [m for m in missing if m.asset_id]
    assert found
    for m in found:
        assert m.minutes is not None and m.minutes > 0
        assert m.straight_m is not None and m.minutes * networks["walk"].mode.metres_per_minute >= m.straight_m * 0.95
        assert not area.contains(Point(m.lon, m.lat))


def test_compare_two_locals(helsinki_index: query.AssetIndex, networks: dict[str, access.StreetNetwork]) -> None:
    a = access.isochrone(networks["walk"], *NEAR_KAISANIEMI, 10).area
    b = access.isochrone(networks["walk"], 24.9520, 60.1690, 10).area
    c = gaps.compare(helsinki_index, a, b)
    sa, sb = query.summarise(helsinki_index, a), query.summarise(helsinki_index, b)
    assert list(c.counts["A"]) == list(sa.counts()["count"]) and list(c.counts["B"]) == list(sb.counts()["count"])
    assert c.shared + len(c.only_a) == len(sa.items)
    assert c.shared + len(c.only_b) == len(sb.items)
    assert 0 < c.overlap_m2 < min(c.area_a_m2, c.area_b_m2)


def test_search_assets_and_places(helsinki: sources.Extract) -> None:
    found = search.search_assets(helsinki.assets, "pyhan kolminaisuuden")
    assert "Pyhän Kolminaisuuden kirkko" in set(found["name"])
    assert set(search.search_assets(helsinki.assets, "kirjasto", ["libraries"])["category"]) == {"libraries"}
    assert len(search.search_assets(helsinki.assets, "zzzz-nothing")) == 0
    places = search.search_places(helsinki.gazetteer, "Kaisaniemi")
    assert "Kaisaniemi" in set(places["label"])
    address = search.search_places(helsinki.gazetteer, "unioninkatu 29")
    assert len(address) >= 1 and address.iloc[0]["kind"] == "address"
    assert len(search.search_places(helsinki.gazetteer, "<script>")) == 0
