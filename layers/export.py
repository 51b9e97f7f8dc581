"""Layers out to planners' GIS: GeoJSON (RFC 7946), GeoPackage (a layer per category),
zipped Shapefile (a shapefile per geometry type), CSV and KML, in the CRS asked for, with the
licences travelling with the data. Files are written with pyogrio (GDAL)."""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from layers import areas, catalogue, categories, community, geojson, importer, query, schema, settings
from layers.errors import BadInputError
from layers.progress import Progress, report

FORMATS = ("geojson", "gpkg", "shp", "csv", "kml")
OSM_LICENCE_TEXT = ("Map data © OpenStreetMap contributors, available under the Open Database Licence (ODbL 1.0): "
                    "https://www.openstreetmap.org/copyright")
EXPORT_COLUMNS = ["id", "name", "category", "source", "osm_type", "osm_id", "address", "website", "phone",
                  "opening_hours", "note", "status", "licence", "attribution"]


def community_licence() -> str:
    import os

    return os.environ.get("OURPATCH_COMMUNITY_LICENCE", "OGL-UK-3.0")


def licence_text() -> str:
    return (f"{OSM_LICENCE_TEXT}\n\nCommunity data (source = community): licensed under "
            f"{community_licence()} by the groups who publish it through Our Patch.\n")


def parse_crs(text: str | None) -> CRS:
    if not text:
        return CRS.from_epsg(4326)
    try:
        crs = CRS.from_user_input(text.strip())
    except Exception as exc:  # pyproj's CRSError
        raise BadInputError(f"Unknown coordinate system {text[:60]!r}; use a code such as EPSG:27700.") from exc
    return crs


def read_boundary(path: Path | str, *, field: str | None = None, value: str | None = None) -> areas.AreaGeometry:
    """An area from a boundary file (GeoJSON, GeoPackage, zipped Shapefile); when it holds many
    polygons, the one whose `field` equals `value` (a ward name)."""
    p = Path(path)
    if p.suffix.lower() in (".geojson", ".json") and not value:
        return areas.read_area_file(p)
    kind = importer.FORMATS.get(p.suffix.lower())
    if kind is None or kind in ("CSV", "KML") or not p.exists():
        raise BadInputError(f"{p.name}: a boundary is a GeoJSON, GeoPackage or zipped Shapefile file.")
    frame = importer.read_spatial(p, kind)
    frame = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(frame) == 0:
        raise BadInputError(f"{p.name} holds no polygon.")
    if len(frame) > 1:
        if not value:
            raise BadInputError(f"{p.name} holds {len(frame)} areas; choose one with --area-field and --area-value.")
        column = field or "name"
        if column not in frame.columns:
            raise BadInputError(f"{p.name} has no field {column!r}; it has: {', '.join(map(str, frame.columns[:12]))}.")
        frame = frame[frame[column].astype(str) == value]
        if len(frame) == 0:
            raise BadInputError(f"{p.name}: no area has {column} = {value!r}.")
    geom = shapely.make_valid(shapely.union_all(frame.geometry.values))
    return areas.parse_area(shapely.geometry.mapping(geom), origin=p.name)


def resolve_area(text: str, *, field: str | None = None, value: str | None = None) -> areas.AreaGeometry:
    """An area given on the command line: a boundary or area file, or a saved local's share link
    (or its token)."""
    from layers import store

    if not Path(text).exists():
        token = text.split("local=", 1)[1].split("&", 1)[0] if "local=" in text else text
        saved = store.get_local(token)
        if saved is not None:
            return areas.from_wkt(saved.area_wkt)
    return read_boundary(text, field=field, value=value)


def select(layer_ids: list[str] | None, *, area: BaseGeometry | None = None,
           include_pending: bool = False) -> gpd.GeoDataFrame:
    """What to export: the chosen categories (all when None), inside the area (the same rule as
    `within`), published community assets and, for planners who ask, pending ones flagged."""
    if layer_ids is not None:
        categories.check_category_ids(layer_ids)
    assets = catalogue.all_assets()
    assets = assets.assign(status=assets["source"].map({"community": "published"}))
    if include_pending:
        pending = [r for r in community.visible_assets(None, status="pending", everyone=True)]
        if pending:
            frame = gpd.GeoDataFrame(
                {"id": [f"community:{r['id']}" for r in pending], "source": "community",
                 "name": [r["name"] for r in pending],
                 "category": [r["category"] for r in pending], "address": [r["address"] for r in pending],
                 "website": [r["website"] for r in pending], "phone": [r["phone"] for r in pending],
                 "opening_hours": [r["opening_hours"] for r in pending],
                 "note": ["PENDING: not yet checked by a moderator"] * len(pending)},
                geometry=shapely.from_wkt([r["geometry_wkt"] for r in pending]), crs=schema.WGS84)
            frame = schema.conform_assets(frame).assign(status="pending")
            assets = gpd.GeoDataFrame(pd.concat([assets, frame], ignore_index=True), geometry="geometry",
                                      crs=schema.WGS84)
    if area is not None:
        assets = assets.iloc[query.AssetIndex(assets).positions_within(area, layer_ids)]
    elif layer_ids is not None:
        assets = assets[assets["category"].isin(layer_ids)]
    if len(assets) == 0:
        raise BadInputError("Nothing to export: no asset of those layers lies in that area.")
    is_osm = assets["source"] == "osm"
    assets = assets.assign(
        licence=np.where(is_osm, settings.OSM_LICENCE, community_licence()),
        attribution=np.where(is_osm, settings.OSM_ATTRIBUTION, "Our Patch community groups"),
    )
    return gpd.GeoDataFrame(assets[[*EXPORT_COLUMNS, "geometry"]].reset_index(drop=True), geometry="geometry",
                            crs=schema.WGS84)


def _check_target(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists() or not parent.is_dir():
        raise BadInputError(f"Cannot write {out}: the folder {parent} does not exist.")
    try:
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".ourpatch-", delete=True)  # noqa: SIM115
        probe.close()
    except OSError as exc:
        raise BadInputError(f"Cannot write to {parent} ({exc.strerror}).") from exc


def write(assets: gpd.GeoDataFrame, fmt: str, out: Path | str, *, crs: str | None = None) -> list[Path]:
    """Write `assets` as `fmt` to `out`; returns the files written (licence files included)."""
    if fmt not in FORMATS:
        raise BadInputError(f"Unknown format {fmt!r}; choose from: {', '.join(FORMATS)}.")
    target = parse_crs(crs)
    wgs84 = target.to_epsg() == 4326
    if fmt in ("geojson", "kml") and not wgs84:
        raise BadInputError(f"{fmt.upper()} is always WGS84 (EPSG:4326); for {crs} choose gpkg, shp or csv.")
    out = Path(out)
    _check_target(out)
    writer = {"geojson": _geojson, "gpkg": _gpkg, "shp": _shp, "csv": _csv, "kml": _kml}[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return writer(assets, out, target)


def _projected(assets: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    return assets if crs.to_epsg() == 4326 else assets.to_crs(crs)


def _beside(out: Path) -> Path:
    path = out.with_name(out.name + ".LICENSE.txt")
    path.write_text(licence_text(), encoding="utf-8")
    return path


def _geojson(assets: gpd.GeoDataFrame, out: Path, _crs: CRS) -> list[Path]:
    fc = geojson.feature_collection(assets, extra=["note", "status", "licence", "attribution"])
    fc["licence"] = f"{settings.OSM_LICENCE} (OpenStreetMap data); {community_licence()} (community data)"
    out.write_text(geojson.dumps(fc), encoding="utf-8")
    return [out]


def _plain(assets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = assets.copy()
    frame["osm_id"] = frame["osm_id"].astype("Int64")
    for col in EXPORT_COLUMNS:
        if col != "osm_id":
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def _gpkg(assets: gpd.GeoDataFrame, out: Path, crs: CRS) -> list[Path]:
    if out.exists():
        out.unlink()
    frame = _plain(_projected(assets, crs))
    for cat_id, part in frame.groupby("category", sort=False):
        pyogrio.write_dataframe(part, out, layer=str(cat_id), driver="GPKG", append=out.exists(),
                                layer_options={"DESCRIPTION": licence_text()})
    return [out]


SHAPE_GROUPS = {"points": ["Point", "MultiPoint"], "lines": ["LineString", "MultiLineString"],
                "polygons": ["Polygon", "MultiPolygon"]}


def shapefile_field_names() -> dict[str, str]:
    """Export column -> its shapefile name (at most 10 characters, unique)."""
    names: dict[str, str] = {}
    for col in EXPORT_COLUMNS:
        short = col[:10]
        n = 1
        while short in names.values():
            short = f"{col[:8]}_{n}"
            n += 1
        names[col] = short
    return names


def _shp(assets: gpd.GeoDataFrame, out: Path, crs: CRS) -> list[Path]:
    frame = _plain(_projected(assets, crs)).rename(columns=shapefile_field_names())
    mapping = shapefile_field_names()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for group, kinds in SHAPE_GROUPS.items():
            part = frame[frame.geom_type.isin(kinds)]
            if len(part):
                pyogrio.write_dataframe(part, folder / f"{out.stem}_{group}.shp", driver="ESRI Shapefile",
                                        layer_options={"ENCODING": "UTF-8"}, promote_to_multi=group != "points")
        (folder / "FIELDS.txt").write_text(
            "Shapefile field names are at most 10 characters. Full names:\n"
            + "".join(f"{short}\t{full}\n" for full, short in mapping.items()), encoding="utf-8")
        (folder / "LICENSE.txt").write_text(licence_text(), encoding="utf-8")
        if out.exists():
            out.unlink()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item in sorted(folder.iterdir()):
                archive.write(item, item.name)
    return [out]


def _csv(assets: gpd.GeoDataFrame, out: Path, crs: CRS) -> list[Path]:
    frame = _projected(assets, crs)
    points = shapely.point_on_surface(np.asarray(frame.geometry.values))
    table = pd.DataFrame(_plain(frame).drop(columns="geometry"))
    if crs.is_geographic:
        table["lon"], table["lat"] = shapely.get_x(points), shapely.get_y(points)
    else:
        table["easting"], table["northing"] = shapely.get_x(points), shapely.get_y(points)
    table["wkt"] = shapely.to_wkt(np.asarray(frame.geometry.values), rounding_precision=8 if crs.is_geographic else 3)
    table["crs"] = crs.to_string()
    table.to_csv(out, index=False, encoding="utf-8")
    return [out, _beside(out)]


def _kml(assets: gpd.GeoDataFrame, out: Path, _crs: CRS) -> list[Path]:
    if out.exists():
        out.unlink()
    frame = _plain(assets).rename(columns={"name": "Name", "note": "Description"})
    pyogrio.write_dataframe(frame, out, driver="KML", layer="assets")
    return [out, _beside(out)]


def export_to(out: Path | str, fmt: str, *, layer_ids: list[str] | None, area: BaseGeometry | None = None,
              crs: str | None = None, include_pending: bool = False,
              progress: Progress | None = None) -> list[Path]:
    parse_crs(crs)  # refuse an unknown CRS before any work
    report(progress, "Choosing the places", 1, 2)
    chosen = select(layer_ids, area=area, include_pending=include_pending)
    report(progress, f"Writing {len(chosen):,} places", 2, 2)
    return write(chosen, fmt, out, crs=crs)



def write_layer(frame: gpd.GeoDataFrame, fmt: str, out: Path | str, *, layer: str, crs: str | None = None,
                licence: str | None = None) -> list[Path]:
    """A derived layer (consensus cells, coverage gaps) as GeoJSON (WGS84), GeoPackage or CSV."""
    if fmt not in ("geojson", "gpkg", "csv"):
        raise BadInputError(f"This layer can be written as geojson, gpkg or csv, not {fmt!r}.")
    target = parse_crs(crs)
    if fmt == "geojson" and target.to_epsg() != 4326:
        raise BadInputError(f"GEOJSON is always WGS84 (EPSG:4326); for {crs} choose gpkg or csv.")
    path = Path(out)
    _check_target(path)
    frame = _projected(frame, target)
    if path.exists():
        path.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "csv":
            table = pd.DataFrame(frame.drop(columns="geometry"))
            table["wkt"] = shapely.to_wkt(np.asarray(frame.geometry.values), rounding_precision=8)
            table["crs"] = target.to_string()
            table.to_csv(path, index=False, encoding="utf-8")
        else:
            options = {"DESCRIPTION": licence} if (licence and fmt == "gpkg") else {}
            pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG" if fmt == "gpkg" else "GeoJSON",
                                    layer_options=options)
    written = [path]
    if licence and fmt != "gpkg":
        beside = path.with_name(path.name + ".LICENSE.txt")
        beside.write_text(licence, encoding="utf-8")
        written.append(beside)
    return written
