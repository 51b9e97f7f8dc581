"""The travel modes' rules (data/travel_modes.toml) judged against the real OSM tags of the
extract, as OpenStreetMap defines them: what each mode may use, which way, and how fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from layers import geodesy
from layers.analysis import access, gaps
from layers.osm import sources

WALK_S = 3.6 / 4.8  # seconds a metre on foot (and pushing a bike)
RIDE_S = 3.6 / 15.0  # seconds a metre on a bike


@pytest.fixture(scope="module")
def nets(helsinki: sources.Extract) -> dict[str, access.StreetNetwork]:
    return {m: access.StreetNetwork(helsinki.network, access.mode_by_id(m)) for m in access.load_modes()}


def _edges(net: access.StreetNetwork, **tags: str | None) -> np.ndarray:
    """Positions of the network's edges whose tags are as given (None: the tag is absent)."""
    mask = np.ones(len(net.edges), dtype=bool)
    for key, value in tags.items():
        col = (
            net.edges[key.replace("__", ":")]
            if key.replace("__", ":") in net.edges
            else pd.Series(None, index=net.edges.index)
        )
        mask &= (col.isna() if value is None else col == value).to_numpy()
    return np.flatnonzero(mask)


def _seconds_a_metre(net: access.StreetNetwork, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return net.forward_s[rows] / net.length[rows], net.backward_s[rows] / net.length[rows]


def test_shared_paths_are_ridden_and_plain_footways_pushed(nets: dict[str, access.StreetNetwork]) -> None:
    cycle = nets["cycle"]
    shared = _edges(cycle, highway="footway", bicycle="yes")
    plain = _edges(cycle, highway="footway", bicycle=None, access=None)
    no_bikes = _edges(cycle, highway="footway", bicycle="no")
    assert len(shared) > 20 and len(plain) > 100 and len(no_bikes) > 100  # Helsinki has all three
    fwd, bwd = _seconds_a_metre(cycle, shared)
    assert np.allclose(fwd, RIDE_S) and np.allclose(bwd, RIDE_S)
    for pushed in (plain, no_bikes):  # off the bike, a cyclist is a pedestrian
        fwd, bwd = _seconds_a_metre(cycle, pushed)
        assert np.allclose(fwd, WALK_S) and np.allclose(bwd, WALK_S)


def test_pedestrian_streets_need_bicycle_yes(nets: dict[str, access.StreetNetwork]) -> None:
    cycle = nets["cycle"]
    allowed = _edges(cycle, highway="pedestrian", bicycle="yes")
    untagged = _edges(cycle, highway="pedestrian", bicycle=None)
    assert len(allowed) and len(untagged)
    assert np.allclose(_seconds_a_metre(cycle, allowed)[0], RIDE_S)
    assert np.allclose(_seconds_a_metre(cycle, untagged)[0], WALK_S)


def test_cycleways_are_walked_where_foot_is_allowed(
    helsinki: sources.Extract, nets: dict[str, access.StreetNetwork]
) -> None:
    walk = nets["walk"]
    table = helsinki.network
    combined = table[(table["highway"] == "cycleway") & table["foot"].isin(["designated", "yes"])]
    cycle_only = table[(table["highway"] == "cycleway") & (table["foot"] == "no")]
    assert len(combined) > 10 and len(cycle_only) > 10
    walked = set(zip(walk.edges["u"], walk.edges["v"], strict=True))
    assert all((u, v) in walked for u, v in zip(combined["u"], combined["v"], strict=True))
    assert not any((u, v) in walked for u, v in zip(cycle_only["u"], cycle_only["v"], strict=True))


def test_one_way_streets(nets: dict[str, access.StreetNetwork]) -> None:
    cycle, walk = nets["cycle"], nets["walk"]
    oneway = _edges(cycle, oneway="yes", oneway__bicycle=None, cycleway=None, bicycle=None, highway="tertiary")
    exempt = _edges(cycle, oneway="yes", oneway__bicycle="no")
    assert len(oneway) and len(exempt)
    fwd, bwd = _seconds_a_metre(cycle, oneway)
    assert np.allclose(fwd, RIDE_S) and np.allclose(bwd, WALK_S)  # against the flow: push
    fwd, bwd = _seconds_a_metre(cycle, exempt)
    assert np.allclose(fwd, RIDE_S) and np.allclose(bwd, RIDE_S)  # oneway:bicycle=no
    on_foot = _edges(walk, oneway="yes")
    assert len(on_foot) and np.isfinite(walk.backward_s[on_foot]).all()  # walkers use both pavements


def test_rules_on_handmade_tags() -> None:
    rows = pd.DataFrame(
        [
            {"highway": "footway", "bicycle": "dismount"},  # push
            {"highway": "cycleway", "foot": "no"},  # no walking
            {"highway": "residential", "access": "private"},  # closed to everyone
            {"highway": "service", "access": "no", "foot": "yes"},  # the specific tag wins
            {"highway": "motorway"},  # never on foot
            {"highway": "steps", "wheelchair": "yes"},  # still steps
            {"highway": "footway", "access": "private;delivery"},  # one of several values closes it
            {"highway": "residential", "oneway": "-1"},  # one way, against the drawing
            {"highway": "residential", "junction": "roundabout"},  # one way by definition
        ]
    ).assign(length=10.0)
    walk, chair, cycle = (access.mode_by_id(m) for m in ("walk", "wheelchair", "cycle"))
    assert list(access.usable(rows, walk)) == [True, False, False, True, False, True, False, True, True]
    assert list(access.usable(rows, chair)) == [True, False, False, True, False, False, False, True, True]
    assert list(access.usable(rows, cycle)) == [False, True, False, False, False, False, False, True, True]
    fwd, bwd = access.directions(rows, cycle)
    assert (fwd[7], bwd[7]) == (False, True) and (fwd[8], bwd[8]) == (True, False)


def test_wheelchair_uses_a_subset_of_the_walking_network(nets: dict[str, access.StreetNetwork]) -> None:
    walk = set(zip(nets["walk"].edges["u"], nets["walk"].edges["v"], strict=True))
    chair = set(zip(nets["wheelchair"].edges["u"], nets["wheelchair"].edges["v"], strict=True))
    assert chair < walk
    assert not (nets["wheelchair"].edges["highway"] == "steps").any()


@pytest.mark.parametrize("category", ["libraries", "worship"])
def test_cycling_covers_at_least_what_walking_covers(
    helsinki: sources.Extract, nets: dict[str, access.StreetNetwork], category: str
) -> None:
    area = box(*helsinki.bounds)
    walking = gaps.coverage_gap(nets["walk"], helsinki.assets, category, 10, area)
    cycling = gaps.coverage_gap(nets["cycle"], helsinki.assets, category, 10, area)
    assert cycling.share <= walking.share
    # and place by place: nothing within 10 minutes' walk is beyond 10 minutes' ride
    assert geodesy.area_m2(cycling.gap.difference(walking.gap)) < 5
