"""Bulk import of community assets: CSV (lon/lat or easting/northing), GeoJSON, GeoPackage,
zipped Shapefile and KML, read with pyogrio. The CRS comes from the file and is transformed to
WGS84; a file with no CRS whose coordinates are not plausibly WGS84 is refused. Every row is
checked first and a report made per row; one bad row and nothing is written."""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS
from shapely.geometry import MultiPolygon, Point, Polygon

from layers import community
from layers.accounts import User
from layers.errors import BadInputError
from layers.progress import Progress, each
from layers.progress import report as progress_report

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ZIP_UNPACKED_BYTES = 500 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
MAX_ROWS = 20_000
FORMATS = {".csv": "CSV", ".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage",
           ".zip": "zipped Shapefile", ".kml": "KML"}
FIELDS = ["name", "category", "kind", "description", "address", "website", "email", "phone", "schedule",
          "eligibility", "opening_hours", "online_url"]
LINK_COLUMNS = list(community.RELATIONS)  # cares_for, meets_at, runs_at: targets separated by ";"


@dataclass(frozen=True)
class RowReport:
    row: int
    name: str
    problem: str | None


@dataclass(frozen=True)
class ImportResult:
    ids: list[int]
    report: list[RowReport]


def _check_file(path: Path) -> str:
    if not path.exists() or not path.is_file():
        raise BadInputError(f"No such file: {path}.")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BadInputError(f"{path.name}: not a file type that can be imported; use "
                            f"{', '.join(sorted(set(FORMATS.values())))}.")
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(f"{path.name} is empty.")
    if size > MAX_FILE_BYTES:
        raise BadInputError(f"{path.name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    return kind


def _check_zip(path: Path) -> str:
    """The shapefile inside a zip, after refusing zip bombs before anything is unpacked."""
    if not zipfile.is_zipfile(path):
        raise BadInputError(f"{path.name} is not a zip file.")
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise BadInputError(f"{path.name} holds more than {MAX_ZIP_ENTRIES:,} files; refused before unpacking.")
        unpacked = sum(e.file_size for e in entries)
        if unpacked > MAX_ZIP_UNPACKED_BYTES:
            raise BadInputError(f"{path.name} would unpack to more than "
                                f"{MAX_ZIP_UNPACKED_BYTES // (1024 * 1024)} MB; refused before unpacking.")
        shapefiles = [e.filename for e in entries if e.filename.lower().endswith(".shp")]
    if len(shapefiles) != 1:
        raise BadInputError(f"{path.name} should hold exactly one .shp file (it holds {len(shapefiles)}).")
    return f"/vsizip/{path.resolve()}/{shapefiles[0]}"


def _plausibly_wgs84(frame: gpd.GeoDataFrame) -> bool:
    minx, miny, maxx, maxy = frame.total_bounds
    return bool(np.isfinite([minx, miny, maxx, maxy]).all() and -180 <= minx <= maxx <= 180
                and -90 <= miny <= maxy <= 90)


def read_spatial(path: Path, kind: str) -> gpd.GeoDataFrame:
    source = _check_zip(path) if kind == "zipped Shapefile" else str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pyogrio.read_dataframe(source, on_invalid="ignore")
    except Exception as exc:  # pyogrio raises DataSourceError and friends; message names the file
        raise BadInputError(f"{path.name} could not be read as {kind} ({str(exc)[:160]}).") from exc
    if len(frame) == 0:
        raise BadInputError(f"{path.name} holds no features.")
    if frame.geometry.isna().all():
        raise BadInputError(f"{path.name} holds no readable geometries.")
    if frame.crs is None:
        if not _plausibly_wgs84(frame):
            raise BadInputError(f"{path.name} says nothing of its coordinate system and its coordinates are not "
                                "longitude/latitude; save it with a CRS (e.g. EPSG:27700).")
        frame = frame.set_crs("EPSG:4326")
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    if not _plausibly_wgs84(frame):
        raise BadInputError(f"{path.name}: its coordinates are not longitude/latitude although it says so "
                            "(are they metres? save the file with its real CRS).")
    return frame


def _read_csv(path: Path, crs: str | None) -> gpd.GeoDataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BadInputError(f"{path.name} could not be read as CSV ({str(exc)[:120]}).") from exc
    cols = {c.strip().lower(): c for c in table.columns}
    if {"lon", "lat"} <= set(cols) or {"longitude", "latitude"} <= set(cols):
        xcol, ycol = (cols["lon"], cols["lat"]) if "lon" in cols else (cols["longitude"], cols["latitude"])
        source_crs = crs or "EPSG:4326"
    elif {"easting", "northing"} <= set(cols):
        xcol, ycol = cols["easting"], cols["northing"]
        if not crs:
            raise BadInputError(f"{path.name} has easting/northing columns but no coordinate system: "
                                "give one with --crs (for example EPSG:27700).")
        source_crs = crs
    else:
        raise BadInputError(f"{path.name} needs lon and lat (or easting and northing) columns.")
    xs = pd.to_numeric(table[xcol].str.strip(), errors="coerce")
    ys = pd.to_numeric(table[ycol].str.strip(), errors="coerce")
    bad = np.flatnonzero(~(np.isfinite(xs) & np.isfinite(ys)))
    if len(bad):
        raise BadInputError(f"{path.name}: row {bad[0] + 1}: the coordinates are not numbers.")
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(xs, ys), crs=_crs(source_crs))
    if frame.crs.is_geographic and not _plausibly_wgs84(frame):
        row = int(np.flatnonzero((xs.abs() > 180) | (ys.abs() > 90))[0]) + 1
        raise BadInputError(f"{path.name}: row {row}: longitude/latitude out of range (are these metres? "
                            "use easting/northing columns and --crs).")
    return frame.to_crs("EPSG:4326") if frame.crs.to_epsg() != 4326 else frame


def _crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception as exc:  # pyproj's CRSError
        raise BadInputError(f"Unknown coordinate system {text[:60]!r}.") from exc


def read_rows(path: Path | str, *, crs: str | None = None) -> list[dict[str, Any]]:
    """The file's features as asset dicts (geometry in WGS84), before any checking of fields."""
    p = Path(path)
    kind = _check_file(p)
    frame = _read_csv(p, crs) if kind == "CSV" else read_spatial(p, kind)
    if len(frame) == 0:
        raise BadInputError(f"{p.name} holds no features.")
    if len(frame) > MAX_ROWS:
        raise BadInputError(f"{p.name} holds more than {MAX_ROWS:,} features; split it.")
    cols = {c.strip().lower(): c for c in frame.columns if c != "geometry"}
    rows = []
    for geom, record in zip(frame.geometry.values, frame.drop(columns="geometry").to_dict("records"), strict=True):
        row: dict[str, Any] = {f: record.get(cols[f]) for f in FIELDS if f in cols}
        if "kind" not in row or not row["kind"]:
            row["kind"] = "area" if isinstance(geom, Polygon | MultiPolygon) else "place"
        row["geometry"] = geom if geom is not None else None
        links = []
        for relation in LINK_COLUMNS:
            raw = record.get(cols[relation]) if relation in cols else None
            for target in str(raw or "").split(";"):
                if target.strip():
                    links.append({"relation": relation, "target": target.strip()})
        row["links"] = links
        if isinstance(geom, Point) and row["kind"] != "place":
            row["kind"] = "place"
        rows.append(row)
    return rows


def import_file(user: User | None, path: Path | str, *, group: str | None, publish: bool = False,
                crs: str | None = None, progress: Progress | None = None) -> ImportResult:
    """Check every row, report on each, and write all of them in one transaction or none."""
    p = Path(path)
    progress_report(progress, "Reading the file", 0, 1)
    rows = read_rows(p, crs=crs)
    report = []
    for n, row in enumerate(each(progress, "Checking rows", rows, len(rows), every=max(1, len(rows) // 50)),
                            start=1):
        try:
            community.clean_asset(row)
            report.append(RowReport(n, str(row.get("name") or ""), None))
        except BadInputError as exc:
            report.append(RowReport(n, str(row.get("name") or ""), str(exc)))
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows, start=1):
        key = (" ".join(str(row.get("name") or "").casefold().split()), str(row.get("geometry")))
        if key in seen and report[n - 1].problem is None:
            report[n - 1] = RowReport(n, report[n - 1].name, f"the same as row {seen[key]} (a duplicate).")
        seen.setdefault(key, n)
    problems = [r for r in report if r.problem]
    if problems:
        first = problems[0]
        more = f" ({len(problems) - 1} more rows have problems)" if len(problems) > 1 else ""
        raise ImportRefusedError(f"{p.name}: row {first.row}: {first.problem}{more}; nothing was imported.", report)
    progress_report(progress, f"Saving {len(rows):,} rows", len(rows), len(rows))
    ids = community.create_assets(user, rows, group=group, publish=publish)
    return ImportResult(ids=ids, report=report)


class ImportRefusedError(BadInputError):
    def __init__(self, message: str, report: list[RowReport]) -> None:
        super().__init__(message)
        self.report = report
