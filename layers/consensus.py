"""What residents' locals add up to: a hexagon grid (H3, about 150 m across) counting how many
residents' saved locals cover each cell. Cells with fewer than 5 contributors are left out, so no
single resident's local can be recovered from the layer."""

from __future__ import annotations

from collections import defaultdict

import geopandas as gpd
import h3
import shapely
from shapely.geometry import Polygon

from layers import schema, store
from layers.progress import Progress, each

RESOLUTION = 10  # average edge about 76 m, so a cell is about 150 m across
MIN_CONTRIBUTORS = 5


def consensus_cells(min_contributors: int = MIN_CONTRIBUTORS, *, progress: Progress | None = None) -> gpd.GeoDataFrame:
    """One row per H3 cell covered by at least `min_contributors` different residents."""
    if min_contributors < MIN_CONTRIBUTORS:
        raise ValueError(f"the consensus layer never shows cells with fewer than {MIN_CONTRIBUTORS} contributors")
    contributors: dict[str, set[str]] = defaultdict(set)
    footprints = store.saved_local_footprints()
    for who, wkt in each(progress, "Adding up residents' locals", footprints, len(footprints),
                         every=max(1, len(footprints) // 50)):
        area = shapely.from_wkt(wkt)
        if area.is_empty:
            continue
        for cell in h3.geo_to_cells(area, RESOLUTION):
            contributors[cell].add(who)
    kept = sorted((cell, len(people)) for cell, people in contributors.items() if len(people) >= min_contributors)
    geoms = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]) for cell, _ in kept]
    return gpd.GeoDataFrame({"h3": [c for c, _ in kept], "residents": [n for _, n in kept]},
                            geometry=gpd.GeoSeries(geoms, crs=schema.WGS84), crs=schema.WGS84)
