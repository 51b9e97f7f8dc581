"""Generated (not real) assets for benchmarks and size tests: labelled synthetic everywhere."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers import categories, schema

# Greater Helsinki, roughly: where the generated points fall.
BBOX = (24.80, 60.12, 25.20, 60.30)


def synthetic_assets(n: int, *, seed: int = 0, bbox: tuple[float, float, float, float] = BBOX) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    west, south, east, north = bbox
    xs = rng.uniform(west, east, n)
    ys = rng.uniform(south, north, n)
    cat_ids = np.array([c.id for c in categories.load_categories() if c.source == "osm"])
    cats = cat_ids[rng.integers(0, len(cat_ids), n)]
    ids = np.arange(1, n + 1)
    frame = gpd.GeoDataFrame(
        {
            "id": [f"osm:node/{i}" for i in ids],
            "source": "osm",
            "osm_type": "node",
            "osm_id": ids,
            "name": [f"Synthetic place {i}" for i in ids],
            "category": cats,
        },
        geometry=shapely.points(xs, ys),
        crs=schema.WGS84,
    )
    return schema.conform_assets(frame)
