"""Layers out to planners' GIS: GeoJSON (RFC 7946), GeoPackage 1.2 (a table per category and
geometry type), zipped Shapefile and zipped CSV (a file per geometry type) and KML (a folder per
category and geometry type), in the CRS asked for (see `projection`: OSTN15 for British National
Grid, never a ballpark transformation), with the licences and the transformation used travelling
with the data. Files are written with pyogrio (GDAL)."""

from __future__ import annotations

import html
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from layers import areas, catalogue, categories, schema, settings
from layers.analysis import query
from layers.errors import BadInputError
from layers.groups import community, importer
from layers.groups.accounts import User
from layers.io import geojson, projection
from layers.progress import Progress, report

FORMATS = ("geojson", "gpkg", "shp", "csv", "kml")
OSM_LICENCE_TEXT = (
    "Map data © OpenStreetMap contributors, available under the Open Database Licence (ODbL 1.0): "
    "https://www.openstreetmap.org/copyright"
)
EXPORT_COLUMNS = [
    "id",
    "name",
    "category",
    "source",
    "osm_type",
    "osm_id",
    "address",
    "website",
    "phone",
    "opening_hours",
    "note",
    "status",
    "licence",
    "attribution",
]


def community_licence() -> str:
    import os

    return os.environ.get("OURPATCH_COMMUNITY_LICENCE", "OGL-UK-3.0")


SOURCE_TEXT = "Our Patch community asset map: OpenStreetMap data and community groups' own entries"


def licence_text(projected: projection.Projected | None = None) -> str:
    """The licences, and where a CRS was asked for, the coordinate system and the transformation."""
    text = (
        f"{OSM_LICENCE_TEXT}\n\nCommunity data (source = community): licensed under "
        f"{community_licence()} by the groups who publish it through Our Patch.\n"
    )
    if projected is not None:
        text += (
            f"\nCoordinate system: {projection.crs_label(projected.crs)}.\n"
            f"Transformation from WGS84: {projected.method}.\n"
        )
    return text


def parse_crs(text: str | None) -> CRS:
    return projection.parse_crs(text)


FORMULA_START = importer.FORMULA_START


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula (starting with = + - @ tab or CR) get a
    leading single quote, as OWASP recommends for CSV injection; numbers are left alone."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = [("'" + v) if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in out[column]]
    return out


SHAPEFILE_TEXT_BYTES = 254


def shapefile_cuts(assets: gpd.GeoDataFrame) -> list[str]:
    """Text a Shapefile cannot hold whole (a field is at most 254 bytes): "column (n values)"."""
    cuts = []
    for column in EXPORT_COLUMNS:
        if column in assets.columns:
            long = sum(1 for v in assets[column] if isinstance(v, str) and len(v.encode()) > SHAPEFILE_TEXT_BYTES)
            if long:
                cuts.append(f"{column} ({long} value{'s' if long > 1 else ''})")
    return cuts


def read_boundary(path: Path | str, *, field: str | None = None, value: str | None = None) -> areas.AreaGeometry:
    """An area from a boundary file (GeoJSON, GeoPackage, zipped Shapefile); when it holds many
    polygons, the one whose `field` equals `value` (a ward name)."""
    p = Path(path)
    if p.suffix.lower() in (".geojson", ".json") and not value:
        return areas.read_area_file(p, resident=False)
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
    return areas.parse_area(shapely.geometry.mapping(geom), origin=p.name, resident=False)


def resolve_area(text: str, *, field: str | None = None, value: str | None = None) -> areas.AreaGeometry:
    """An area given on the command line: a boundary or area file, or a saved local's share link
    (or its token)."""
    from layers.analysis import local_spec

    if not Path(text).exists():
        token = text.split("local=", 1)[1].split("&", 1)[0] if "local=" in text else text
        saved = local_spec.saved(token)
        if saved is not None:
            return local_spec.saved_area(saved)
    return read_boundary(text, field=field, value=value)


def select(
    layer_ids: list[str] | None,
    *,
    area: BaseGeometry | None = None,
    include_pending: bool = False,
    user: User | None = None,
    everyone: bool = False,
) -> gpd.GeoDataFrame:
    """What to export: the chosen categories (all when None), inside the area (the same rule as
    `within`), published community assets and, for planners who ask, pending ones flagged
    (`user` must be a planner, moderator or admin; `everyone` is for the command line, run by
    whoever runs the server)."""
    if layer_ids is not None:
        categories.check_category_ids(layer_ids)
    assets = catalogue.all_assets()
    assets = assets.assign(status=assets["source"].map({"community": "published"}))
    if include_pending:
        pending = community.showable(community.pending_assets(user, everyone=everyone))
        if pending:
            frame = gpd.GeoDataFrame(
                {
                    "id": [f"community:{r.id}" for r in pending],
                    "source": "community",
                    "name": [r.name for r in pending],
                    "category": [r.category for r in pending],
                    "address": [r.address for r in pending],
                    "website": [r.website for r in pending],
                    "phone": [r.phone for r in pending],
                    "opening_hours": [r.opening_hours for r in pending],
                    "note": ["PENDING: not yet checked by a moderator"] * len(pending),
                },
                geometry=np.asarray([r.geometry for r in pending], dtype=object),
                crs=schema.WGS84,
            )
            frame = schema.conform_assets(frame).assign(status="pending")
            assets = gpd.GeoDataFrame(
                pd.concat([assets, frame], ignore_index=True), geometry="geometry", crs=schema.WGS84
            )
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
    return gpd.GeoDataFrame(
        assets[[*EXPORT_COLUMNS, "geometry"]].reset_index(drop=True), geometry="geometry", crs=schema.WGS84
    )


def _check_target(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists() or not parent.is_dir():
        raise BadInputError(f"Cannot write {out}: the folder {parent} does not exist.")
    try:
        probe = tempfile.NamedTemporaryFile(dir=parent, prefix=".ourpatch-", delete=True)  # noqa: SIM115
        probe.close()
    except OSError as exc:
        raise BadInputError(f"Cannot write to {parent} ({exc.strerror}).") from exc


SUFFIXES = {"geojson": (".geojson", ".json"), "gpkg": (".gpkg",), "shp": (".zip",), "csv": (".zip",), "kml": (".kml",)}


def write(
    assets: gpd.GeoDataFrame,
    fmt: str,
    out: Path | str,
    *,
    crs: str | None = None,
    outside_area_of_use: bool = False,
    notes: list[str] | None = None,
) -> list[Path]:
    """Write `assets` as `fmt` to `out`; returns the files written (licence files included).
    What the user should know about the result (text cut short in a Shapefile) is appended to
    `notes` when given."""
    if fmt not in FORMATS:
        raise BadInputError(f"Unknown format {fmt!r}; choose from: {', '.join(FORMATS)}.")
    target = parse_crs(crs)
    wgs84 = target.to_epsg() == 4326
    if fmt in ("geojson", "kml") and not wgs84:
        raise BadInputError(f"{fmt.upper()} is always WGS84 (EPSG:4326); for {crs} choose gpkg, shp or csv.")
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES[fmt]:
        what = {"shp": "a zip of shapefiles", "csv": "a zip of CSV files (one per geometry type)"}.get(fmt, fmt.upper())
        raise BadInputError(f"The {fmt} export is {what}; name the output {SUFFIXES[fmt][0]} (not {out.name}).")
    _check_target(out)
    projected = projection.project(assets, target, outside_area_of_use=outside_area_of_use)
    writer = {"geojson": _geojson, "gpkg": _gpkg, "shp": _shp, "csv": _csv, "kml": _kml}[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = writer(projected, out)
    if fmt == "shp" and notes is not None:
        cuts = shapefile_cuts(assets)
        if cuts:
            notes.append(
                f"A Shapefile holds at most {SHAPEFILE_TEXT_BYTES} bytes of text a field, so some text "
                f"was cut short: {', '.join(cuts)}; choose GeoPackage (gpkg) to keep it whole."
            )
    return written


GEOMETRY_GROUPS = {
    "points": ["Point", "MultiPoint"],
    "lines": ["LineString", "MultiLineString"],
    "polygons": ["Polygon", "MultiPolygon"],
}
SHAPE_GROUPS = GEOMETRY_GROUPS


def split_by_geometry(frame: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame, str]]:
    """(group, rows, OGR geometry type) for each geometry type present: points stay Point unless a
    MultiPoint is among them; lines and polygons are always Multi."""
    parts = []
    kinds = frame.geom_type
    for group, names in GEOMETRY_GROUPS.items():
        part = frame[kinds.isin(names)]
        if len(part) == 0:
            continue
        multi = group != "points" or bool((part.geom_type == "MultiPoint").any())
        gtype = names[1] if multi else names[0]
        if multi:
            part = part.set_geometry(
                gpd.GeoSeries(_to_multi(np.asarray(part.geometry.values)), index=part.index, crs=part.crs)
            )
        parts.append((group, part, gtype))
    return parts


def _to_multi(geoms: np.ndarray) -> np.ndarray:
    makers: dict[str, Any] = {
        "Point": shapely.MultiPoint,
        "LineString": shapely.MultiLineString,
        "Polygon": shapely.MultiPolygon,
    }
    return np.array([makers[g.geom_type]([g]) if g.geom_type in makers else g for g in geoms], dtype=object)


def _beside(out: Path, projected: projection.Projected) -> Path:
    path = out.with_name(out.name + ".LICENSE.txt")
    path.write_text(licence_text(projected), encoding="utf-8")
    return path


def _geojson(projected: projection.Projected, out: Path) -> list[Path]:
    fc = geojson.feature_collection(projected.frame, extra=["note", "status", "licence", "attribution"])
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


def file_metadata(projected: projection.Projected) -> dict[str, str]:
    """What a GeoPackage says of itself (GDAL dataset metadata, kept in gpkg_metadata)."""
    return {
        "SOURCE": SOURCE_TEXT,
        "LICENSE": licence_text(),
        "ATTRIBUTION": settings.OSM_ATTRIBUTION,
        "CRS": projection.crs_label(projected.crs),
        "CRS_TRANSFORMATION": projected.method,
        "OUTSIDE_AREA_OF_USE": "yes" if projected.outside_area_of_use else "no",
    }


def _gpkg(projected: projection.Projected, out: Path) -> list[Path]:
    """A table per category and geometry type (`parks_points`, `parks_polygons`), GeoPackage 1.2."""
    if out.exists():
        out.unlink()
    frame = _plain(projected.frame)
    first = True
    for cat_id, rows in frame.groupby("category", sort=False):
        for group, part, gtype in split_by_geometry(cast(gpd.GeoDataFrame, rows)):  # groups of a GeoDataFrame
            pyogrio.write_dataframe(
                part,
                out,
                layer=f"{cat_id}_{group}",
                driver="GPKG",
                append=not first,
                geometry_type=gtype,
                dataset_options={"VERSION": "1.2"} if first else None,
                dataset_metadata=file_metadata(projected) if first else None,
                layer_options={"DESCRIPTION": licence_text(projected)},
            )
            first = False
    return [out, _beside(out, projected)]


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


def _zip_folder(folder: Path, out: Path) -> None:
    if out.exists():
        out.unlink()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.iterdir()):
            archive.write(item, item.name)


def esri_prj(crs: CRS) -> str | None:
    """The ESRI WKT PROJ writes for an EPSG CRS, when it reads back as that same code. GDAL's own
    shapefile .prj can name the datum so that QGIS does not recognise it (EPSG:3067 came out as
    a custom CRS "EUREF-FIN_TM35FIN"): ArcGIS and QGIS then both see the EPSG code."""
    code = crs.to_epsg()
    if code is None:
        return None
    wkt = crs.to_wkt("WKT1_ESRI")
    return wkt if wkt and CRS.from_wkt(wkt).to_epsg() == code else None


def _shp(projected: projection.Projected, out: Path) -> list[Path]:
    frame = _plain(projected.frame).rename(columns=shapefile_field_names())
    mapping = shapefile_field_names()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for group, part, gtype in split_by_geometry(frame):
            pyogrio.write_dataframe(
                part,
                folder / f"{out.stem}_{group}.shp",
                driver="ESRI Shapefile",
                layer_options={"ENCODING": "UTF-8"},
                geometry_type=gtype,
            )
            prj = esri_prj(projected.crs)
            if prj is not None:
                (folder / f"{out.stem}_{group}.prj").write_text(prj, encoding="utf-8")
        (folder / "FIELDS.txt").write_text(
            "Shapefile field names are at most 10 characters. Full names:\n"
            + "".join(f"{short}\t{full}\n" for full, short in mapping.items()),
            encoding="utf-8",
        )
        (folder / "LICENSE.txt").write_text(licence_text(projected), encoding="utf-8")
        _zip_folder(folder, out)
    return [out]


CSV_TYPES = {
    "id": "String",
    "osm_id": "Integer64",
    "lon": "Real",
    "lat": "Real",
    "easting": "Real",
    "northing": "Real",
    "wkt": "WKT",
}


def _csv(projected: projection.Projected, out: Path) -> list[Path]:
    """A zip of one CSV per geometry type, each with a `.csvt` (column types, the geometry as WKT)
    and a `.prj` (the CRS), which GDAL and QGIS's Add Vector Layer read; README.txt says the same."""
    crs = projected.crs
    code = projection.crs_label(crs)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = []
        for group, part, _gtype in split_by_geometry(projected.frame):
            points = shapely.point_on_surface(np.asarray(part.geometry.values))
            table = pd.DataFrame(_plain(part).drop(columns="geometry"))
            x, y = ("lon", "lat") if crs.is_geographic else ("easting", "northing")
            table[x], table[y] = shapely.get_x(points), shapely.get_y(points)
            table["wkt"] = shapely.to_wkt(
                np.asarray(part.geometry.values), rounding_precision=8 if crs.is_geographic else 3
            )
            table["crs"] = f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.to_string()
            name = f"{out.stem}_{group}"
            neutralise_formulas(table).to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")
            types = [CSV_TYPES.get(col, "String") for col in table.columns]
            (folder / f"{name}.csvt").write_text(",".join(f'"{t}"' for t in types) + "\n", encoding="utf-8")
            (folder / f"{name}.prj").write_text(crs.to_wkt("WKT1_GDAL"), encoding="utf-8")
            names.append(f"{name}.csv")
        (folder / "LICENSE.txt").write_text(licence_text(projected), encoding="utf-8")
        (folder / "README.txt").write_text(
            f"{len(names)} CSV files, one per geometry type: {', '.join(names)}.\n"
            f"Coordinates are in {code}; the column `crs` says so on every row, and each file's .prj holds it.\n"
            "The column `wkt` is the geometry as Well-Known Text (the .csvt file marks it as WKT); "
            + ("`lon`/`lat`" if crs.is_geographic else "`easting`/`northing`")
            + " is a point on each feature.\n"
            "In QGIS: Layer > Add Layer > Add Vector Layer and choose the .csv (GDAL reads the .csvt and .prj),\n"
            f"or Add Delimited Text Layer with geometry from `wkt` and the CRS set to {code}.\n",
            encoding="utf-8",
        )
        _zip_folder(folder, out)
    return [out]


def _kml(projected: projection.Projected, out: Path) -> list[Path]:
    """A folder per category and geometry type (KML is always WGS84)."""
    if out.exists():
        out.unlink()
    frame = _plain(projected.frame).rename(columns={"name": "Name", "note": "Description"})
    # KML viewers show <description> as HTML: user text goes in escaped, so it shows as text.
    frame["Description"] = [html.escape(v) if isinstance(v, str) else v for v in frame["Description"]]
    first = True
    for cat_id, rows in frame.groupby("category", sort=False):
        for group, part, _gtype in split_by_geometry(cast(gpd.GeoDataFrame, rows)):  # groups of a GeoDataFrame
            pyogrio.write_dataframe(part, out, driver="KML", layer=f"{cat_id}_{group}", append=not first)
            first = False
    return [out, _beside(out, projected)]


def export_to(
    out: Path | str,
    fmt: str,
    *,
    layer_ids: list[str] | None,
    area: BaseGeometry | None = None,
    crs: str | None = None,
    include_pending: bool = False,
    outside_area_of_use: bool = False,
    notes: list[str] | None = None,
    progress: Progress | None = None,
    user: User | None = None,
    everyone: bool = False,
) -> list[Path]:
    parse_crs(crs)  # refuse an unknown CRS before any work
    report(progress, "Choosing the places", 1, 2)
    chosen = select(layer_ids, area=area, include_pending=include_pending, user=user, everyone=everyone)
    report(progress, f"Writing {len(chosen):,} places", 2, 2)
    return write(chosen, fmt, out, crs=crs, outside_area_of_use=outside_area_of_use, notes=notes)


def write_layer(
    frame: gpd.GeoDataFrame,
    fmt: str,
    out: Path | str,
    *,
    layer: str,
    crs: str | None = None,
    licence: str | None = None,
    outside_area_of_use: bool = False,
) -> list[Path]:
    """A derived layer (consensus cells, coverage gaps) as GeoJSON (WGS84), GeoPackage 1.2 or CSV, in
    the CRS asked for (by the same transformations as the asset exports)."""
    if fmt not in ("geojson", "gpkg", "csv"):
        raise BadInputError(f"This layer can be written as geojson, gpkg or csv, not {fmt!r}.")
    target = parse_crs(crs)
    if fmt == "geojson" and target.to_epsg() != 4326:
        raise BadInputError(f"GEOJSON is always WGS84 (EPSG:4326); for {crs} choose gpkg or csv.")
    path = Path(out)
    _check_target(path)
    projected = projection.project(frame, target, outside_area_of_use=outside_area_of_use)
    frame = projected.frame
    text = (licence or "") + (
        f"\nCoordinate system: {projection.crs_label(projected.crs)}.\nTransformation from WGS84: {projected.method}.\n"
    )
    if path.exists():
        path.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "csv":
            table = pd.DataFrame(frame.drop(columns="geometry"))
            table["wkt"] = shapely.to_wkt(
                np.asarray(frame.geometry.values), rounding_precision=8 if target.is_geographic else 3
            )
            table["crs"] = f"EPSG:{target.to_epsg()}" if target.to_epsg() else target.to_string()
            neutralise_formulas(table).to_csv(path, index=False, encoding="utf-8")
        elif fmt == "gpkg":
            metadata = {**file_metadata(projected), "LICENSE": licence or ""}
            for group, part, gtype in split_by_geometry(frame) or [("polygons", frame, "MultiPolygon")]:
                name = layer if len(split_by_geometry(frame)) <= 1 else f"{layer}_{group}"
                pyogrio.write_dataframe(
                    part,
                    path,
                    layer=name,
                    driver="GPKG",
                    geometry_type=gtype,
                    append=path.exists(),
                    dataset_options={"VERSION": "1.2"},
                    dataset_metadata=metadata,
                    layer_options={"DESCRIPTION": text},
                )
        else:
            pyogrio.write_dataframe(frame, path, layer=layer, driver="GeoJSON")
    beside = path.with_name(path.name + ".LICENSE.txt")
    beside.write_text(text, encoding="utf-8")
    return [path, beside]
