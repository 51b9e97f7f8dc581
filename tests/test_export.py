"""Exports read back with GDAL (pyogrio): counts equal `within`, attributes and non-ASCII names
equal, CRS as asked, coordinates within 1 cm of a pyproj transform of the source geometry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box, mapping

from layers import export, query, sources
from layers.errors import BadInputError
from layers.settings import REPO_ROOT

AREA = box(24.9400, 60.1660, 24.9560, 60.1720)  # takes in Pyhän Kolminaisuuden kirkko and the Esplanadi


@pytest.fixture(scope="module")
def expected(helsinki: sources.Extract) -> gpd.GeoDataFrame:
    return query.AssetIndex(helsinki.assets).within(AREA)


def _points_close(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, crs: str) -> None:
    """Every exported geometry within 1 cm of pyproj's own transform of the source geometry."""
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    want = want.set_index("id")
    for row in got.itertuples():
        expect = shapely.transform(want.loc[row.id].geometry,
                                   lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))
        assert shapely.hausdorff_distance(row.geometry, expect) < 0.01, row.id


def test_gpkg_in_british_national_grid(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.gpkg"
    export.export_to(out, "gpkg", layer_ids=None, area=AREA, crs="EPSG:27700")
    layers = [name for name, _ in pyogrio.list_layers(out)]
    assert set(layers) == set(expected["category"])
    frames = [pyogrio.read_dataframe(out, layer=name) for name in layers]
    assert all(f.crs.to_epsg() == 27700 for f in frames)
    got = gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs="EPSG:27700")
    assert len(got) == len(expected)
    assert set(got["name"].dropna()) == set(expected["name"].dropna())
    assert "Pyhän Kolminaisuuden kirkko" in set(got["name"])
    assert set(got["licence"]) == {"ODbL-1.0"}
    _points_close(got, expected, "EPSG:27700")
    description = pyogrio.read_info(out, layer=layers[0])["layer_metadata"]["DESCRIPTION"]
    assert "© OpenStreetMap contributors" in description and "OGL-UK-3.0" in description


def test_shapefile_zip(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.zip"
    export.export_to(out, "shp", layer_ids=None, area=AREA, crs="EPSG:27700")
    names = zipfile.ZipFile(out).namelist()
    assert {"LICENSE.txt", "FIELDS.txt", "assets_points.prj", "assets_polygons.prj"} <= set(names)
    fields = zipfile.ZipFile(out).read("FIELDS.txt").decode()
    assert "opening_ho\topening_hours" in fields
    parts = [pyogrio.read_dataframe(f"/vsizip/{out}/{n}") for n in names if n.endswith(".shp")]
    assert all(p.crs.to_epsg() == 27700 for p in parts)
    got = gpd.GeoDataFrame(gpd.pd.concat(parts, ignore_index=True), crs="EPSG:27700")
    assert len(got) == len(expected)
    assert "Pyhän Kolminaisuuden kirkko" in set(got["name"])
    assert all(len(c) <= 10 for c in got.columns)


def test_csv_has_wkt_and_easting_northing(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.csv"
    files = export.export_to(out, "csv", layer_ids=["worship", "parks"], area=AREA, crs="EPSG:27700")
    assert any(f.name.endswith("LICENSE.txt") for f in files)
    table = gpd.pd.read_csv(out)
    assert {"wkt", "easting", "northing", "licence"} <= set(table.columns)
    assert len(table) == int(expected["category"].isin(["worship", "parks"]).sum())
    assert "Pyhän Kolminaisuuden kirkko" in set(table["name"])
    wgs = export.export_to(tmp_path / "wgs.csv", "csv", layer_ids=["worship"], area=AREA)
    assert {"lon", "lat"} <= set(gpd.pd.read_csv(wgs[0]).columns)


def test_geojson_and_kml_are_wgs84(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.geojson"
    export.export_to(out, "geojson", layer_ids=None, area=AREA)
    got = pyogrio.read_dataframe(out)
    assert len(got) == len(expected) and got.crs.to_epsg() == 4326
    assert json.loads(out.read_text())["features"][0]["properties"]["licence"]
    with pytest.raises(BadInputError, match="always WGS84"):
        export.export_to(tmp_path / "x.geojson", "geojson", layer_ids=None, area=AREA, crs="EPSG:27700")
    kml = tmp_path / "assets.kml"
    export.export_to(kml, "kml", layer_ids=None, area=AREA)
    assert len(pyogrio.read_dataframe(kml)) == len(expected)


def test_boundary_with_many_wards(tmp_path: Path) -> None:
    wards = gpd.GeoDataFrame({"name": ["Handmade Ward A", "Handmade Ward B"]},
                             geometry=[AREA, box(24.9400, 60.1720, 24.9560, 60.1780)], crs="EPSG:4326").to_crs("EPSG:3067")
    path = tmp_path / "wards.gpkg"
    wards.to_file(path, driver="GPKG")
    with pytest.raises(BadInputError, match="holds 2 areas"):
        export.read_boundary(path)
    ward = export.read_boundary(path, field="name", value="Handmade Ward A")
    assert ward.symmetric_difference(AREA).area < 1e-9
    with pytest.raises(BadInputError, match="no area has"):
        export.read_boundary(path, field="name", value="Nowhere")


def _cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OURPATCH_DATA_DIR": str(data)}
    return subprocess.run([sys.executable, "-m", "layers", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, check=False, timeout=300)


def test_cli_export_and_bad_requests(tmp_path: Path) -> None:
    data = tmp_path / "data"
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(mapping(AREA)))
    out = tmp_path / "ward.gpkg"
    ok = _cli("export", "--layer", "libraries", "--layer", "parks", "--format", "gpkg", "--crs", "EPSG:27700",
              "--area", str(area), "-o", str(out), data=data)
    assert ok.returncode == 0, ok.stderr
    within = json.loads(_cli("within", str(area), "--category", "libraries", "--category", "parks", data=data).stdout)
    total = sum(len(pyogrio.read_dataframe(out, layer=name)) for name, _ in pyogrio.list_layers(out))
    assert total == len(within["features"])
    for args, words in [
        (["--layer", "pubs", "--format", "gpkg"], "Unknown category"),
        (["--all", "--format", "gpkg", "--crs", "EPSG:999999"], "Unknown coordinate system"),
        (["--all", "--format", "geojson", "--crs", "EPSG:27700"], "always WGS84"),
        (["--all", "--format", "gpkg", "--area", str(tmp_path / "missing.geojson")], "No such file"),
    ]:
        bad = _cli("export", *args, "-o", str(tmp_path / "x.gpkg"), data=data)
        assert bad.returncode == 2 and words in bad.stderr, (args, bad.stderr)
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps(mapping(box(0, 0, 0.01, 0.01))))
    empty = _cli("export", "--all", "--format", "gpkg", "--area", str(far), "-o", str(tmp_path / "y.gpkg"), data=data)
    assert empty.returncode == 2 and "Nothing to export" in empty.stderr
    unwritable = _cli("export", "--all", "--format", "gpkg", "-o", str(tmp_path / "no" / "such" / "x.gpkg"), data=data)
    assert unwritable.returncode == 2 and "does not exist" in unwritable.stderr


def test_open_referral_feed_is_valid_and_joined_up(tmp_path: Path) -> None:
    import jsonschema

    from layers import accounts, community, oruk

    os.environ["OURPATCH_DATA_DIR"], old = str(tmp_path / "data"), os.environ["OURPATCH_DATA_DIR"]
    try:
        mod = accounts.add_user("Mika Moderator", "moderator", "a long enough password")
        community.create_asset(mod, {"name": "Friends of Kaisaniemi Park", "geometry": shapely.Point(24.9462, 60.1752),
                                     "schedule": "Saturdays 10:00", "phone": "+358 40 123 4567",
                                     "eligibility": "Everyone"}, group="Friends of Kaisaniemi Park", publish=True)
        community.create_asset(mod, {"name": "Kluuvi street chat", "kind": "online", "online_url": "https://chat.example",
                                     "geometry": box(24.944, 60.168, 24.952, 60.172)}, group="Kluuvi Neighbours", publish=True)
        community.create_asset(mod, {"name": "Handmade pending", "geometry": shapely.Point(24.95, 60.17)},
                               group="Kluuvi Neighbours")
        result = _cli("export", "--format", "oruk", "-o", str(tmp_path / "feed"), data=tmp_path / "data")
        assert result.returncode == 0, result.stderr
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old
    feed = {t: json.loads((tmp_path / "feed" / f"{t}.json").read_text()) for t in oruk.TABLES}
    for table, records in feed.items():
        for record in records:
            jsonschema.validate(record, oruk.SCHEMA[table])
    assert {s["name"] for s in feed["services"]} == {"Friends of Kaisaniemi Park", "Kluuvi street chat"}
    assert len(feed["organizations"]) == 2
    ids = {t: {r["id"] for r in feed[t]} for t in oruk.TABLES}
    assert all(s["organization_id"] in ids["organizations"] for s in feed["services"])
    assert all(x["service_id"] in ids["services"] and x["location_id"] in ids["locations"]
               for x in feed["service_at_locations"])
    assert feed["schedules"][0]["description"] == "Saturdays 10:00"
    assert json.loads(feed["service_areas"][0]["extent"])["type"] == "Polygon"
    assert (tmp_path / "feed" / "LICENSE.txt").exists()


def test_area_from_a_saved_local_link(tmp_path: Path) -> None:
    from layers import locals, store

    os.environ["OURPATCH_DATA_DIR"], old = str(tmp_path / "data"), os.environ["OURPATCH_DATA_DIR"]
    try:
        token = store.save_local("Handmade local", locals.LocalSpec().to_json(), AREA.wkt)
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old
    out = tmp_path / "mine.csv"
    ok = _cli("export", "--all", "--format", "csv", "--area", f"http://localhost:8501/?local={token}", "-o", str(out),
              data=tmp_path / "data")
    assert ok.returncode == 0, ok.stderr
    assert len(gpd.pd.read_csv(out)) == len(query.AssetIndex(sources.current().assets).within(AREA))


def _read_back(path: Path, fmt: str) -> gpd.GeoDataFrame:
    if fmt == "gpkg":
        return gpd.GeoDataFrame(gpd.pd.concat([pyogrio.read_dataframe(path, layer=n) for n, _ in pyogrio.list_layers(path)],
                                              ignore_index=True))
    if fmt == "shp":
        names = [n for n in zipfile.ZipFile(path).namelist() if n.endswith(".shp")]
        return gpd.GeoDataFrame(gpd.pd.concat([pyogrio.read_dataframe(f"/vsizip/{path}/{n}") for n in names],
                                              ignore_index=True))
    if fmt == "csv":
        table = gpd.pd.read_csv(path, dtype={"osm_id": "Int64"})
        return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries.from_wkt(table["wkt"]))
    frame = pyogrio.read_dataframe(path)
    return frame.rename(columns={"Name": "name"})


@pytest.mark.parametrize(("fmt", "crs"), [("geojson", None), ("gpkg", "EPSG:27700"), ("shp", "EPSG:27700"),
                                          ("csv", "EPSG:3067"), ("kml", None)])
def test_every_format_reads_back_the_same_assets(tmp_path: Path, expected: gpd.GeoDataFrame, fmt: str,
                                                 crs: str | None) -> None:
    out = tmp_path / f"assets.{'zip' if fmt == 'shp' else fmt}"
    export.export_to(out, fmt, layer_ids=None, area=AREA, crs=crs)
    got = _read_back(out, fmt)
    assert len(got) == len(expected)
    if fmt == "kml":  # KML keeps names and geometry; ids live in its extended data
        assert sorted(got["name"].fillna("")) == sorted(expected["name"].fillna(""))
        return
    got = got.set_index("id")
    want = expected.set_index("id")
    assert set(got.index) == set(want.index)
    for asset_id, row in want.iterrows():
        name = got.loc[asset_id, "name"]
        assert (name if isinstance(name, str) and name else None) == (row["name"] if isinstance(row["name"], str) else None)
        assert got.loc[asset_id, "category"] == row["category"]
        assert int(got.loc[asset_id, "osm_id"]) == int(row["osm_id"])
    if crs:
        to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        for asset_id, row in want.iterrows():
            expect = shapely.transform(row.geometry, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))
            assert shapely.hausdorff_distance(got.loc[asset_id, "geometry"], expect) < 0.01, asset_id
