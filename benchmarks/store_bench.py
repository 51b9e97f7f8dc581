"""The store on PostGIS beside SQLite (the baseline, measured in the same run): the area query for
community assets, and a community edit's round trip (a group adds an asset, a moderator
publishes it, and the map's layer shows it).

The assets are generated ("Bench generated group n", scattered over the embedded extract), never
presented as real. PostGIS runs in a throwaway schema of OURPATCH_DATABASE_URL or
OURPATCH_TEST_DATABASE_URL, dropped afterwards; without either the PostGIS figures are skipped
with one line saying why.
"""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from shapely.geometry import Point

from layers import areas, catalogue
from layers.groups import accounts, community
from layers.osm import sources

PASSWORD = "bench-" + secrets.token_urlsafe(24)


def database_url() -> str | None:
    for name in ("OURPATCH_DATABASE_URL", "OURPATCH_TEST_DATABASE_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@contextmanager
def _backend(url: str | None) -> Iterator[None]:
    old = os.environ.get("OURPATCH_DATABASE_URL")
    if url is None:
        os.environ.pop("OURPATCH_DATABASE_URL", None)
    else:
        os.environ["OURPATCH_DATABASE_URL"] = url
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OURPATCH_DATABASE_URL", None)
        else:
            os.environ["OURPATCH_DATABASE_URL"] = old


def _p50_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _measure(n: int, tag: str) -> dict[str, Any]:
    """Fill the current backend with n published assets; time the area query and the round trip."""
    extract = sources.current()
    west, south, east, north = extract.bounds
    rng = np.random.default_rng(11)
    admin = accounts.add_user(f"Bench Admin {tag}", "admin", PASSWORD)
    editor = accounts.add_user(f"Bench Editor {tag}", "editor", PASSWORD, group=f"Bench generated group {tag}")
    rows = [
        {
            "name": f"Bench generated asset {i}",
            "category": "community_groups",
            "kind": "place",
            "geometry": Point(float(rng.uniform(west, east)), float(rng.uniform(south, north))),
        }
        for i in range(n)
    ]
    for start in range(0, n, 1000):
        community.create_assets(admin, rows[start : start + 1000], group=f"Bench generated group {tag}", publish=True)
    centre = ((west + east) / 2, (south + north) / 2)
    area = areas.circle(centre[0], centre[1], 150)  # a neighbourhood: a few per cent of the extract
    found = community.published_within(area)
    query_ms = _p50_ms(lambda: community.published_within(area), 15)

    counter = iter(range(10**6))

    def round_trip() -> None:
        k = next(counter)
        asset_id = community.create_asset(
            editor,
            {
                "name": f"Bench generated new group {k}",
                "kind": "place",
                "category": "community_groups",
                "geometry": Point(*centre),
            },
        )
        community.publish(admin, asset_id)
        layer = catalogue.all_assets(extract)
        assert f"community:{asset_id}" in set(layer["id"]), "the published asset is not on the map layer"

    trip_ms = _p50_ms(round_trip, 5)
    return {"query_ms": query_ms, "found": len(found), "trip_ms": trip_ms}


def run(n: int = 5_000) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    old_dir = os.environ.get("OURPATCH_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="ourpatch-bench-store-") as tmp:
        os.environ["OURPATCH_DATA_DIR"] = tmp
        try:
            with _backend(None):
                lite = _measure(n, "sqlite")
            url = database_url()
            why = None if url else "no PostGIS URL (set OURPATCH_DATABASE_URL or OURPATCH_TEST_DATABASE_URL)"
            if url and why is None:
                from layers.store import scratch

                reason = scratch.reachable(url)
                why = f"the database cannot be used ({reason})" if reason else None
            if why or url is None:
                print(f"PostGIS store figures skipped: {why}.")
                rows += [
                    {
                        "figure": f"community area query, {n:,} assets, neighbourhood: SQLite",
                        "ours": lite["query_ms"],
                        "naive": None,
                        "unit": "ms",
                        "target": "-",
                        "ok": True,
                    },
                    {
                        "figure": "community edit round trip (add, publish, on the map): SQLite",
                        "ours": lite["trip_ms"],
                        "naive": None,
                        "unit": "ms",
                        "target": "-",
                        "ok": True,
                    },
                ]
                return rows
            from layers.store import scratch

            with scratch.scratch_schema(url) as scratch_url, _backend(scratch_url):
                pg = _measure(n, "postgis")
        finally:
            if old_dir is None:
                os.environ.pop("OURPATCH_DATA_DIR", None)
            else:
                os.environ["OURPATCH_DATA_DIR"] = old_dir
    assert pg["found"] == lite["found"], (pg["found"], lite["found"])  # same answer on both
    rows += [
        {
            "figure": f"community area query, {n:,} assets, neighbourhood: PostGIS (baseline SQLite)",
            "ours": pg["query_ms"],
            "naive": lite["query_ms"],
            "unit": "ms",
            "target": "-",
            "ok": True,
            "found": pg["found"],
        },
        {
            "figure": "community edit round trip (add, publish, on the map): PostGIS (baseline SQLite)",
            "ours": pg["trip_ms"],
            "naive": lite["trip_ms"],
            "unit": "ms",
            "target": "-",
            "ok": True,
        },
    ]
    return rows
