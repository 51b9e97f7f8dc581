"""Bulk import of community assets: CSV (lon/lat or easting/northing), GeoJSON, GeoPackage,
zipped Shapefile and KML, read with pyogrio. The CRS comes from the file and is transformed to
WGS84; a file with no CRS whose coordinates are not plausibly WGS84 is refused. Every row is
checked first and a report made per row; one bad row and nothing is written."""

from __future__ import annotations

import csv
import json
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon

from layers import settings
from layers.errors import BadInputError, LimitError
from layers.groups import community
from layers.groups.accounts import User
from layers.io import projection
from layers.progress import Progress, each
from layers.progress import report as progress_report

# No network while reading uploads: GDAL would follow a GeoJSON `crs` link or a /vsicurl/ path.
# Such files are refused before GDAL sees them (_refuse_remote_references); as a second guard,
# GDAL's HTTP goes to a closed local port and /vsicurl/ accepts no file name.
NO_NETWORK = {
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTPS_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".ourpatch-no-network",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
}
pyogrio.set_gdal_config_options(NO_NETWORK)
REMOTE = re.compile(r"(?i)(^|[\s\"'(])(/vsi(curl|http|s3|gs|az|adls|oss|swift|webhdfs)|(https?|ftps?|file)://)")
FORMATS = {
    ".csv": "CSV",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".zip": "zipped Shapefile",
    ".kml": "KML",
}
FIELDS = [
    "name",
    "category",
    "kind",
    "description",
    "address",
    "website",
    "email",
    "phone",
    "schedule",
    "eligibility",
    "opening_hours",
    "online_url",
]
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
        raise BadInputError(
            f"{path.name}: not a file type that can be imported; use {', '.join(sorted(set(FORMATS.values())))}."
        )
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(f"{path.name} is empty.")
    if size > settings.max_import_file_bytes:
        raise LimitError(f"{path.name} is larger than {settings.max_import_file_bytes / (1024 * 1024):g} MB.")
    return kind


def _check_zip(path: Path) -> tuple[list[str], dict[str, str]]:
    """The layers inside a zip — every shapefile (as our Shapefile export writes, one per geometry
    type), else every CSV (our CSV export) — after refusing zip bombs before anything is unpacked;
    and the full field names a FIELDS.txt gives for the shapefiles' 10-character ones."""
    if not zipfile.is_zipfile(path):
        raise BadInputError(f"{path.name} is not a zip file.")
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        if len(entries) > settings.max_zip_entries:
            raise LimitError(
                f"{path.name} holds more than {settings.max_zip_entries:,} files; refused before unpacking."
            )
        unpacked = sum(e.file_size for e in entries)
        if unpacked > settings.max_zip_unpacked_bytes:
            raise LimitError(
                f"{path.name} would unpack to more than "
                f"{settings.max_zip_unpacked_bytes / (1024 * 1024):g} MB; refused before unpacking."
            )
        shapefiles = [e for e in entries if e.filename.lower().endswith(".shp")]
        tables = [e for e in entries if e.filename.lower().endswith(".csv")]
        for shp in shapefiles:
            _check_shapefile_index(path, archive, entries, shp)
        names: dict[str, str] = {}
        fields = next((e for e in entries if e.filename.rsplit("/", 1)[-1] == "FIELDS.txt"), None)
        if shapefiles and fields is not None and fields.file_size < 64 * 1024:
            for line in archive.read(fields).decode("utf-8", errors="replace").splitlines():
                short, _, full = line.partition("\t")
                if full and short and len(short) <= 10 and full.isidentifier():
                    names[short] = full
    members = shapefiles or tables
    if not members:
        raise BadInputError(
            f"{path.name} should hold a shapefile (.shp and its companions) or CSV files; it holds neither."
        )
    return [f"/vsizip/{path.resolve()}/{member.filename}" for member in members], names


#: Text a spreadsheet would run as a formula; CSV exports put a single quote before it (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _clean_value(value: Any) -> Any:
    """A missing attribute (NaN, NaT, None) as None: a feature without a link has no link. Text
    our CSV export guarded against spreadsheet formulas ("'+358 9 123") comes back as typed."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):  # lists and other non-scalars
        return value


def _check_shapefile_index(
    path: Path, archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], shp: zipfile.ZipInfo
) -> None:
    """A shapefile's .shx index must agree with its .shp before GDAL reads either: a forged index
    (more records than the file holds, offsets past its end) makes GDAL seek for minutes."""
    stem = shp.filename[:-4].lower()
    shx = next((e for e in entries if e.filename.lower() == stem + ".shx"), None)
    if shx is None:
        return  # GDAL rebuilds a missing index from the .shp itself
    records = (shx.file_size - 100) // 8
    if shx.file_size < 100 or (shx.file_size - 100) % 8:
        raise BadInputError(f"{path.name}: the shapefile's index (.shx) is damaged; save the shapefile again.")
    if records > settings.max_import_rows:
        raise LimitError(f"{path.name} holds more than {settings.max_import_rows:,} features; split it.")
    if records * 12 > max(shp.file_size - 100, 0):  # each record has an 8-byte header and a 4-byte type
        raise BadInputError(
            f"{path.name}: the shapefile's index (.shx) lists more records than the .shp holds; "
            "save the shapefile again."
        )
    with archive.open(shx) as fh:
        header = fh.read(100)
        data = fh.read(records * 8)
    if len(header) < 100 or len(data) < records * 8:
        raise BadInputError(f"{path.name}: the shapefile's index (.shx) is damaged; save the shapefile again.")
    index = np.frombuffer(data, dtype=">i4").reshape(-1, 2).astype(np.int64) * 2  # offset, length in bytes
    if len(index) and ((index[:, 0] < 100) | (index[:, 1] < 0) | (index[:, 0] + index[:, 1] + 8 > shp.file_size)).any():
        raise BadInputError(
            f"{path.name}: the shapefile's index (.shx) points past the end of the .shp; save the shapefile again."
        )


def _refuse_remote_references(path: Path, kind: str) -> None:
    """Refuse, before GDAL reads it, a file that names something to fetch over the network: a
    GeoJSON `crs` member of type link (or naming a URL), a /vsicurl/ path, a KML NetworkLink."""
    if kind not in ("GeoJSON", "KML"):
        return
    text = path.read_bytes().decode("utf-8", errors="replace")
    if kind == "KML":
        if re.search(r"(?i)<\s*(kml:)?NetworkLink\b", text) or re.search(r"(?i)/vsi[a-z0-9]+/", text):
            raise BadInputError(
                f"{path.name} refers to other files or addresses (a NetworkLink), which are "
                "not fetched; save the features themselves in the file."
            )
        return
    decoder = json.JSONDecoder()
    for match in re.finditer(r'"crs"\s*:\s*', text):
        try:
            value, _end = decoder.raw_decode(text, match.end())
        except (json.JSONDecodeError, RecursionError):
            continue
        if not isinstance(value, dict):
            continue
        kind_of = str(value.get("type", "")).lower()
        raw_props = value.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        named = " ".join(str(v) for v in props.values())
        if kind_of == "link" or "href" in props or REMOTE.search(named) or REMOTE.search(" " + named):
            raise BadInputError(
                f"{path.name} names its coordinate system by a link to fetch ('crs' of type link), "
                "which is never fetched; remove the 'crs' member (GeoJSON is WGS84) or name an "
                "EPSG code."
            )


def _plausibly_wgs84(frame: gpd.GeoDataFrame) -> bool:
    minx, miny, maxx, maxy = frame.total_bounds
    return bool(
        np.isfinite([minx, miny, maxx, maxy]).all() and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    )


def _layers(source: str, name: str) -> list[str]:
    try:
        listed = pyogrio.list_layers(source)
    except Exception as exc:  # pyogrio raises DataSourceError and friends; message names the file
        raise BadInputError(f"{name} could not be read ({str(exc)[:160]}).") from exc
    if len(listed) > settings.max_import_layers:
        raise LimitError(f"{name} holds more than {settings.max_import_layers} layers; split it.")
    layers = []
    for layer, geometry_type in listed:
        if geometry_type is None and str(layer) == "layer_styles":
            continue  # QGIS keeps layer styles in a table of that name: no features
        if geometry_type is None:
            raise BadInputError(
                f"{name}: the table {str(layer)[:60]!r} has no locations; keep only map layers in the file."
            )
        layers.append(str(layer))
    return layers


def read_spatial(path: Path, kind: str) -> gpd.GeoDataFrame:
    """Every layer of the file (each table of a GeoPackage, each folder of a KML, each shapefile or
    CSV of a zip) in WGS84, after counting the features of each before any is read."""
    names: dict[str, str] = {}
    if kind == "zipped Shapefile":
        sources, names = _check_zip(path)
    else:
        sources = [str(path)]
    _refuse_remote_references(path, kind)
    layers: list[tuple[str, str | None]] = []
    for source in sources:
        found = _layers(source, path.name)
        layers.extend((source, layer) for layer in (found if len(found) > 1 else [None]))
    if len(layers) > settings.max_import_layers:
        raise LimitError(f"{path.name} holds more than {settings.max_import_layers} layers; split it.")
    total = 0
    frames = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for source, layer in layers:
                info = pyogrio.read_info(source, layer=layer, force_feature_count=True)
                total += max(int(info["features"]), 0)
                if total > settings.max_import_rows:
                    raise LimitError(f"{path.name} holds more than {settings.max_import_rows:,} features; split it.")
            for source, layer in layers:
                frames.append(_to_wgs84(pyogrio.read_dataframe(source, layer=layer, on_invalid="ignore"), path))
    except BadInputError:
        raise
    except Exception as exc:  # pyogrio raises DataSourceError and friends; message names the file
        raise BadInputError(f"{path.name} could not be read as {kind} ({str(exc)[:160]}).") from exc
    frames = [f for f in frames if len(f)]
    if not frames:
        raise BadInputError(f"{path.name} holds no features.")
    frame = (
        frames[0]
        if len(frames) == 1
        else gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    )
    if names:
        frame = frame.rename(columns={short: full for short, full in names.items() if short in frame.columns})
    if frame.geometry.isna().all():
        raise BadInputError(f"{path.name} holds no readable geometries.")
    vertices = int(shapely.get_num_coordinates(np.asarray(frame.geometry.values)).sum())
    if vertices > settings.max_import_vertices:
        raise LimitError(
            f"{path.name} holds more than {settings.max_import_vertices:,} points in all; simplify or split it."
        )
    return frame


def _to_wgs84(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    if len(frame) == 0 or frame.geometry.isna().all():
        return frame.set_crs("EPSG:4326", allow_override=True)
    if frame.geometry.notna().any():
        _refuse_non_finite(frame, path)
    if frame.crs is None:
        if not _plausibly_wgs84(frame):
            raise BadInputError(
                f"{path.name} says nothing of its coordinate system and its coordinates are not "
                "longitude/latitude; save it with a CRS (e.g. EPSG:27700)."
            )
        frame = frame.set_crs("EPSG:4326")
    elif frame.crs.to_epsg() != 4326:
        frame = projection.to_wgs84(frame)
    if not _plausibly_wgs84(frame):
        raise BadInputError(
            f"{path.name}: its coordinates are not longitude/latitude although it says so "
            "(are they metres? save the file with its real CRS)."
        )
    return frame


def _refuse_non_finite(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Every value of every coordinate, heights and measures too, must be a finite number."""
    geoms = np.asarray(frame.geometry.values)
    present = ~shapely.is_missing(geoms)
    values, index = shapely.get_coordinates(geoms[present], include_z=True, include_m=True, return_index=True)
    has_z = shapely.has_z(geoms[present])[index]
    has_m = shapely.has_m(geoms[present])[index]
    bad = (
        ~np.isfinite(values[:, 0])
        | ~np.isfinite(values[:, 1])
        | (has_z & ~np.isfinite(values[:, 2]))
        | (has_m & ~np.isfinite(values[:, 3]))
    )
    if bad.any():
        row = int(np.flatnonzero(present)[index[np.flatnonzero(bad)[0]]]) + 1
        raise BadInputError(
            f"{path.name}: row {row}: the location has coordinates or heights that are not numbers (NaN or infinite)."
        )


def _csv_table(path: Path) -> pd.DataFrame:
    """The CSV's rows as text, read a row at a time and refused as soon as a limit is passed
    (rows, cell length), so a large file never sits in memory whole."""
    csv.field_size_limit(settings.max_csv_field_chars)
    rows: list[list[str]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise BadInputError(f"{path.name} has no header row (name, lon, lat, …).")
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue  # a blank line
                if len(record) > len(header):
                    raise BadInputError(
                        f"{path.name}: row {len(rows) + 1} has more cells ({len(record)}) than the "
                        f"header ({len(header)})."
                    )
                if len(rows) >= settings.max_import_rows:
                    raise LimitError(f"{path.name} holds more than {settings.max_import_rows:,} rows; split it.")
                rows.append(record + [""] * (len(header) - len(record)))
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path.name} could not be read as CSV (it is not UTF-8 text: {exc.reason}).") from exc
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise LimitError(
                f"{path.name}: row {len(rows) + 1} has a cell longer than {settings.max_csv_field_chars:,} characters."
            ) from exc
        raise BadInputError(f"{path.name} could not be read as CSV (row {len(rows) + 1}: {exc}).") from exc
    if not rows:
        raise BadInputError(f"{path.name} has a header but no rows; nothing to import.")
    names = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    if len({n.lower() for n in names}) != len(names):
        raise BadInputError(f"{path.name}: two columns have the same name in the header.")
    return pd.DataFrame(rows, columns=names, dtype=object)


def _read_csv(path: Path, crs: str | None) -> gpd.GeoDataFrame:
    table = _csv_table(path)
    cols = {c.strip().lower(): c for c in table.columns}
    if {"lon", "lat"} <= set(cols) or {"longitude", "latitude"} <= set(cols):
        xcol, ycol = (cols["lon"], cols["lat"]) if "lon" in cols else (cols["longitude"], cols["latitude"])
        source_crs = crs or "EPSG:4326"
    elif {"easting", "northing"} <= set(cols):
        xcol, ycol = cols["easting"], cols["northing"]
        if not crs:
            raise BadInputError(
                f"{path.name} has easting/northing columns but no coordinate system: "
                "give one with --crs (for example EPSG:27700)."
            )
        source_crs = crs
    else:
        raise BadInputError(f"{path.name} needs lon and lat (or easting and northing) columns.")
    xs = pd.to_numeric(table[xcol].str.strip(), errors="coerce")
    ys = pd.to_numeric(table[ycol].str.strip(), errors="coerce")
    bad = np.flatnonzero(~(np.isfinite(xs) & np.isfinite(ys)))
    if len(bad):
        raise BadInputError(f"{path.name}: row {bad[0] + 1}: the coordinates are not numbers.")
    parsed_crs = _crs(source_crs)
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(xs, ys), crs=parsed_crs)
    if parsed_crs.is_geographic and not _plausibly_wgs84(frame):
        row = int(np.flatnonzero((xs.abs() > 180) | (ys.abs() > 90))[0]) + 1
        raise BadInputError(
            f"{path.name}: row {row}: longitude/latitude out of range (are these metres? "
            "use easting/northing columns and --crs)."
        )
    return projection.to_wgs84(frame)


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
    if len(frame) > settings.max_import_rows:
        raise LimitError(f"{p.name} holds more than {settings.max_import_rows:,} features; split it.")
    cols = {c.strip().lower(): c for c in frame.columns if c != "geometry"}
    rows = []
    for geom, record in zip(frame.geometry.values, frame.drop(columns="geometry").to_dict("records"), strict=True):
        record = {key: _clean_value(value) for key, value in record.items()}
        row: dict[str, Any] = {f: record.get(cols[f]) for f in FIELDS if f in cols}
        if _blank(row.get("kind")):
            row["kind"] = "area" if isinstance(geom, Polygon | MultiPolygon) else "place"
        row["geometry"] = geom if geom is not None else None
        links = []
        for relation in LINK_COLUMNS:
            raw = record.get(cols[relation]) if relation in cols else None
            for target in ("" if _blank(raw) else str(raw)).split(";"):
                if target.strip():
                    links.append({"relation": relation, "target": target.strip()})
        row["links"] = links
        rows.append(row)
    return rows


def import_file(
    user: User | None,
    path: Path | str,
    *,
    group: str | None,
    publish: bool = False,
    crs: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Check every row, report on each, and write all of them in one transaction or none."""
    p = Path(path)
    progress_report(progress, "Reading the file", 0, 1)
    rows = read_rows(p, crs=crs)
    report = []
    for n, row in enumerate(each(progress, "Checking rows", rows, len(rows), every=max(1, len(rows) // 50)), start=1):
        try:
            community.clean_asset(row)
            report.append(RowReport(n, _label(row.get("name")), None))
        except BadInputError as exc:
            report.append(RowReport(n, _label(row.get("name")), str(exc)))
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows, start=1):
        key = (" ".join(_label(row.get("name")).casefold().split()), str(row.get("geometry")))
        if key in seen and report[n - 1].problem is None:
            report[n - 1] = RowReport(n, report[n - 1].name, f"the same as row {seen[key]} (a duplicate).")
        seen.setdefault(key, n)
    problems = [r for r in report if r.problem]
    if problems:
        first = problems[0]
        more = f" ({len(problems) - 1} more rows have problems)" if len(problems) > 1 else ""
        problem = (first.problem or "").rstrip(".")
        raise ImportRefusedError(f"{p.name}: row {first.row}: {problem}{more}; nothing was imported.", report)
    progress_report(progress, f"Saving {len(rows):,} rows", len(rows), len(rows))
    ids = community.create_assets(user, rows, group=group, publish=publish)
    return ImportResult(ids=ids, report=report)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return bool(np.isnan(value))
    return False


def _label(value: Any) -> str:
    """A row's name for the report: text as it is, anything else (a list, a number) shown short."""
    if _blank(value):
        return ""
    return value if isinstance(value, str) else repr(value)[:80]


class ImportRefusedError(BadInputError):
    def __init__(self, message: str, report: list[RowReport]) -> None:
        super().__init__(message)
        self.report = report
