"""What residents' locals add up to (never fewer than 5 per cell), and coverage gaps."""

from __future__ import annotations

import random
from pathlib import Path

import h3
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from layers import areas, geodesy, store
from layers.analysis import access, consensus, gaps, local_spec
from layers.osm import sources


def _save(owner: str | None, area: shapely.Geometry, source: str | None = None) -> None:
    local_spec.save("Handmade local", "{}", area.wkt, owner=owner, source=source)


def test_consensus_never_shows_a_cell_with_fewer_than_five(fresh_data_dir: Path) -> None:
    rng = random.Random(7)
    footprints = []
    for person in range(12):
        for _ in range(rng.randint(1, 3)):  # some residents save several locals: they count once
            centre = (24.944 + rng.uniform(0, 0.008), 60.168 + rng.uniform(0, 0.006))
            area = areas.circle(*centre, rng.uniform(150, 400))
            owner = f"user:{person}" if person % 2 else None
            _save(owner, area, source=None if owner else f"ip:192.0.2.{person}")
            footprints.append((owner or "anon", area))
    cells = consensus.consensus_cells()
    assert len(cells) > 0
    saved = store.saved_local_footprints()
    for row in cells.itertuples():
        hexagon = Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(row.h3)])
        assert hexagon.equals_exact(row.geometry, 1e-9)
        centre = Point(h3.cell_to_latlng(row.h3)[::-1])
        people = {f.owner or f.source for f in saved if f.area is not None and f.area.contains(centre)}
        assert row.residents == len(people) >= 5
    with pytest.raises(ValueError):
        consensus.consensus_cells(min_contributors=2)


def test_four_residents_are_not_enough(fresh_data_dir: Path) -> None:
    for person in range(3):
        _save(f"user:{person}", areas.circle(24.95, 60.17, 300))
    for _ in range(5):  # one resident saving five times is still one resident: four in all
        _save("user:99", areas.circle(24.95, 60.17, 300))
    assert len(consensus.consensus_cells()) == 0
    _save("user:5", areas.circle(24.95, 60.17, 300))
    assert (consensus.consensus_cells()["residents"] == 5).all()


def test_coverage_gaps(helsinki: sources.Extract) -> None:
    network = access.StreetNetwork(helsinki.network, access.mode_by_id("walk"))
    area = box(*helsinki.bounds)
    five = gaps.coverage_gap(network, helsinki.assets, "libraries", 5, area)
    ten = gaps.coverage_gap(network, helsinki.assets, "libraries", 10, area)
    assert 0 < ten.share < five.share < 1
    # more minutes, a smaller gap (to within the street buffers' arcs, drawn with 3 segments a quarter)
    assert geodesy.area_m2(ten.gap.difference(five.gap)) < 5
    libraries = helsinki.assets[helsinki.assets["category"] == "libraries"]
    for geom in libraries.geometry:
        assert not five.gap.contains(geom.representative_point())
    none = gaps.coverage_gap(network, helsinki.assets, "community_groups", 5, area)
    assert none.share == pytest.approx(1.0) and none.sources == 0
    assert five.area_m2 == pytest.approx(geodesy.area_m2(area))
