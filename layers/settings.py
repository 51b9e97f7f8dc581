"""Typed settings, each read from the environment when asked for, so tests can override them.

| variable              | meaning                                                  | default              |
|-----------------------|----------------------------------------------------------|----------------------|
| OURPATCH_DATA_DIR     | where loaded layers, caches and the database live        | data/local/          |
| OURPATCH_DATABASE_URL | the store: postgresql://… for PostGIS; unset = SQLite in the data dir | unset (SQLite) |
| OURPATCH_TILE_URL     | background map tiles; "none" turns tiles off             | OSM standard tiles   |
| OURPATCH_TILE_ATTRIBUTION | credit shown for those tiles                         | © OpenStreetMap contributors |
| OURPATCH_OSMNX_CACHE  | osmnx's HTTP cache for `load --place`                    | <data dir>/osmnx-cache |
| OURPATCH_NOMINATIM_URL | geocoder used by `load --place`                         | osmnx's default      |
| OURPATCH_OVERPASS_URL | Overpass API used by `load --place`                      | osmnx's default      |
| OURPATCH_COMMUNITY_LICENCE | licence of exported community data (layers.export)  | OGL-UK-3.0           |
| OURPATCH_COUNTRY      | ISO country code of addresses without a UK postcode (ORUK) | — (GB for UK postcodes) |
| OURPATCH_MAX_START_DISTANCE_M | a walk-time start further than this from a street is refused | 500 |
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DATA_DIR = REPO_ROOT / "data"
CATEGORIES_FILE = SHIPPED_DATA_DIR / "categories.toml"

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_LICENCE = "ODbL-1.0"


def data_dir() -> Path:
    """The folder for runtime data (git-ignored); created on first use."""
    raw = os.environ.get("OURPATCH_DATA_DIR", "").strip()
    path = Path(raw).expanduser() if raw else SHIPPED_DATA_DIR / "local"
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str | None:
    """`postgresql://…` to keep the store in PostGIS (several app servers can share it); None
    keeps it in SQLite (ourpatch.db in the data folder)."""
    raw = os.environ.get("OURPATCH_DATABASE_URL", "").strip()
    return raw or None


def tile_url() -> str | None:
    """The tile URL template, or None when tiles are switched off."""
    raw = os.environ.get("OURPATCH_TILE_URL", DEFAULT_TILE_URL).strip()
    return None if raw.lower() in {"", "none", "off"} else raw


def tile_attribution() -> str:
    return os.environ.get("OURPATCH_TILE_ATTRIBUTION", OSM_ATTRIBUTION)


def nominatim_url() -> str | None:
    """Geocoder for `load --place` (osmnx's default, the public Nominatim, when unset)."""
    return os.environ.get("OURPATCH_NOMINATIM_URL") or None


def overpass_url() -> str | None:
    """Overpass API for `load --place` (osmnx's default when unset)."""
    return os.environ.get("OURPATCH_OVERPASS_URL") or None


def osmnx_cache_dir() -> Path:
    raw = os.environ.get("OURPATCH_OSMNX_CACHE", "").strip()
    return Path(raw) if raw else data_dir() / "osmnx-cache"


def country() -> str:
    """ISO 3166-1 alpha-2 code for community addresses in the Open Referral UK feed that have no
    UK postcode ("FI" for the Helsinki demo); empty: such addresses stay free text."""
    raw = os.environ.get("OURPATCH_COUNTRY", "").strip().upper()
    return raw if re.fullmatch(r"[A-Z]{2}", raw) else ""


# ---------------------------------------------------------------- limits
# What one person may send. Each is a typed module-level value so tests (and a council's own
# deployment code) can override it; every one is listed in README's "Limits" section with what
# the user sees past it. Code reads them as `settings.NAME` at call time, never copies them.

#: A resident's drawn local, a `within` area, a saved local: largest area in km² (an hour's
#: cycle ride, the longest walk-time local, covers at most about 700 km²).
max_area_km2: float = 1000.0
#: Separate shapes in one drawing or area file (circles, rectangles, polygons).
max_area_shapes: int = 50
#: Vertices in one drawing, area file or saved local, all shapes together.
max_area_vertices: int = 50_000
#: Vertices of one community asset's area.
max_asset_vertices: int = 5_000
#: An area file given to `within`, `export --area` or `gaps --area` (standard input included), bytes.
max_area_file_bytes: int = 20 * 1024 * 1024
#: A saved local's stored description (its spec as JSON), bytes: larger is refused when saving.
max_local_spec_bytes: int = 2_000_000
#: Locals saved without an account from one source (browser's network address) in a day.
max_anonymous_locals_per_source_per_day: int = 20
#: An imported file, bytes (checked before it is read).
max_import_file_bytes: int = 50 * 1024 * 1024
#: A zip's unpacked size, bytes, and its number of entries (checked before unpacking).
max_zip_unpacked_bytes: int = 500 * 1024 * 1024
max_zip_entries: int = 1000
#: Rows (features) in one import, all layers together; counted before the features are read.
max_import_rows: int = 20_000
#: Vertices in one import, all features together.
max_import_vertices: int = 1_000_000
#: Layers in one GeoPackage or folders in one KML.
max_import_layers: int = 50
#: A CSV cell, characters (longer cells are refused while reading).
max_csv_field_chars: int = 10_000
#: Sign-in: wrong passwords for one name, and from one source, before delays start.
sign_in_free_failures_per_name: int = 5
sign_in_free_failures_per_source: int = 10
#: The longest delay a name can be given (others cannot keep an account shut for longer).
sign_in_max_delay_name_s: float = 60.0
#: The longest delay a source can be given.
sign_in_max_delay_source_s: float = 15 * 60.0
#: Failures older than this are forgotten, seconds.
sign_in_window_s: float = 15 * 60.0
#: Passwords: fewest characters, and the least zxcvbn score (0-4) accepted.
min_password_chars: int = 12
min_password_score: int = 3
#: The consensus layer: H3 cells one saved local may add (a larger one is skipped and logged).
max_consensus_cells_per_local: int = 100_000
#: Extra SQLite PRAGMAs run on every connection, e.g. "cache_size = -20000" (tests use it to
#: simulate a full disk with "max_page_count" or a read-only store with "query_only = 1").
sqlite_extra_pragmas: list[str] = []


DEFAULT_MAX_START_DISTANCE_M = 500.0


def max_start_distance_m() -> float:
    """How far (metres, straight line) a walk-time start may be from the nearest street that
    joins the rest of the map; further away it is refused. Places further away are left out of
    coverage gaps."""
    raw = os.environ.get("OURPATCH_MAX_START_DISTANCE_M", "").strip()
    if not raw:
        return DEFAULT_MAX_START_DISTANCE_M
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value < 100_000):
        raise ValueError(f"OURPATCH_MAX_START_DISTANCE_M must be a number of metres above 0, not {raw[:40]!r}")
    return value
