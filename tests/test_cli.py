"""The command line, run as a user runs it: a separate process, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from layers.osm import sources
from layers.settings import REPO_ROOT

SENATE_AREA = {
    "type": "Feature",
    "properties": {"name": "Senate Square and Esplanadi"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[24.9440, 60.1665], [24.9560, 60.1665], [24.9560, 60.1705], [24.9440, 60.1705], [24.9440, 60.1665]]
        ],
    },
}


def run(
    *args: str, data_dir: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "OURPATCH_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "layers", *args],
        cwd=REPO_ROOT,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


def write(tmp_path: Path, obj: object, name: str = "area.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def test_within_prints_rfc7946_features(tmp_path: Path, cli_data_dir: Path) -> None:
    result = run("within", str(write(tmp_path, SENATE_AREA)), data_dir=cli_data_dir)
    assert result.returncode == 0, result.stderr
    fc = json.loads(result.stdout)
    assert fc["type"] == "FeatureCollection"
    names = {f["properties"]["name"] for f in fc["features"]}
    assert {"Helsingin tuomiokirkko", "Esplanadinpuisto"} <= names
    for feature in fc["features"]:
        props = feature["properties"]
        assert {"id", "name", "category", "source"} <= props.keys()
        assert props["source"] == "osm"
        assert props["osm_type"] in {"node", "way", "relation"}
        assert isinstance(props["osm_id"], int)
        lon, lat = _first_coordinate(feature["geometry"])
        assert 24.9 < lon < 25.0 and 60.1 < lat < 60.2  # lon/lat order, WGS84
    cathedral = next(f for f in fc["features"] if f["properties"]["name"] == "Helsingin tuomiokirkko")
    assert cathedral["properties"]["osm_type"] == "way"
    assert cathedral["properties"]["osm_id"] == 419479428


def _first_coordinate(geom: dict) -> tuple[float, float]:
    coords = geom["coordinates"]
    while isinstance(coords[0], list):
        coords = coords[0]
    return coords[0], coords[1]


def test_polygon_rings_follow_the_right_hand_rule(tmp_path: Path, cli_data_dir: Path) -> None:
    from shapely.geometry import shape

    fc = json.loads(run("within", str(write(tmp_path, SENATE_AREA)), data_dir=cli_data_dir).stdout)
    polygons = [f for f in fc["features"] if f["geometry"]["type"] == "Polygon"]
    assert polygons
    for f in polygons:
        assert shape(f["geometry"]).exterior.is_ccw


def test_within_category_filter_and_stdin(cli_data_dir: Path) -> None:
    result = run(
        "within",
        "-",
        "--category",
        "worship",
        "--category",
        "parks",
        data_dir=cli_data_dir,
        stdin=json.dumps(SENATE_AREA),
    )
    assert result.returncode == 0, result.stderr
    cats = {f["properties"]["category"] for f in json.loads(result.stdout)["features"]}
    assert cats == {"worship", "parks"}


def test_within_accepts_a_feature_collection(tmp_path: Path, cli_data_dir: Path) -> None:
    fc = {"type": "FeatureCollection", "features": [SENATE_AREA]}
    result = run("within", str(write(tmp_path, fc)), data_dir=cli_data_dir)
    assert result.returncode == 0
    assert len(json.loads(result.stdout)["features"]) > 5


def test_area_elsewhere_gives_empty_collection_and_a_hint(tmp_path: Path, cli_data_dir: Path) -> None:
    swapped = {
        "type": "Polygon",
        "coordinates": [[[60.1665, 24.944], [60.1705, 24.944], [60.1705, 24.956], [60.1665, 24.944]]],
    }
    result = run("within", str(write(tmp_path, swapped)), data_dir=cli_data_dir)
    assert result.returncode == 0
    assert json.loads(result.stdout)["features"] == []
    assert "longitude, latitude" in result.stderr


def test_categories_lists_every_category_with_its_count(cli_data_dir: Path) -> None:
    result = run("categories", data_dir=cli_data_dir)
    assert result.returncode == 0
    lines = {line.split()[0]: int(line.split()[1]) for line in result.stdout.splitlines()}
    assert lines["worship"] >= 5 and lines["parks"] >= 10 and lines["libraries"] >= 3
    assert lines["community_groups"] == 0


@pytest.mark.parametrize(
    ("args", "content", "words"),
    [
        (["within", "{missing}"], None, "No such file"),
        (["within", "{file}"], "this is not json", "not GeoJSON"),
        (["within", "{file}"], json.dumps({"type": "Point", "coordinates": [24.9, 60.1]}), "holds no polygon"),
        (
            ["within", "{file}"],
            json.dumps({"type": "Polygon", "coordinates": [[[24, 91], [25, 91], [25, 92], [24, 91]]]}),
            "out of range",
        ),
        (
            ["within", "{file}"],
            json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
            "self-intersecting",
        ),
        (["within", "{file}", "--category", "pubs"], json.dumps(SENATE_AREA), "Unknown category 'pubs'"),
        (["within"], None, "required"),
        (["frobnicate"], None, "invalid choice"),
        (["load", "--pbf", "{missing}"], None, "No such file"),
        (["load", "--pbf", "{file}"], "not an extract", "not an OpenStreetMap extract"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, cli_data_dir: Path, args: list[str], content: str | None, words: str
) -> None:
    path = tmp_path / "input.geojson"
    if content is not None:
        path.write_text(content)
    argv = [a.replace("{file}", str(path)).replace("{missing}", str(tmp_path / "missing.geojson")) for a in args]
    result = run(*argv, data_dir=cli_data_dir)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_corrupt_pbf_is_refused_and_keeps_the_current_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(os.urandom(4096))
    result = run("load", "--pbf", str(bad), data_dir=data)
    assert result.returncode == 2
    assert "Could not read broken.osm.pbf" in result.stderr
    assert not (data / "extract").exists()


def test_load_pbf_then_back_to_default(tmp_path: Path, helsinki_pbf: Path) -> None:
    data = tmp_path / "data"
    copy = tmp_path / "my-town.osm.pbf"
    copy.write_bytes(helsinki_pbf.read_bytes())
    result = run("load", "--pbf", str(copy), data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "Loaded my-town.osm.pbf" in result.stdout
    assert (data / "extract" / "assets.parquet").exists()
    assert run("categories", data_dir=data).returncode == 0
    back = run("load", "--default", data_dir=data)
    assert back.returncode == 0 and "embedded default" in back.stdout
    assert not (data / "extract").exists()


def test_load_osm_xml(tmp_path: Path) -> None:
    """The XML path, on a small hand-made file (made up for this test, not real OSM data)."""
    xml = tmp_path / "handmade-village.osm"
    xml.write_text(HANDMADE_OSM_XML)
    data = tmp_path / "data"
    result = run("load", "--pbf", str(xml), data_dir=data)
    assert result.returncode == 0, result.stderr
    area = write(
        tmp_path,
        {"type": "Polygon", "coordinates": [[[-1.2, 53.9], [-1.0, 53.9], [-1.0, 54.0], [-1.2, 54.0], [-1.2, 53.9]]]},
    )
    fc = json.loads(run("within", str(area), data_dir=data).stdout)
    by_name = {f["properties"]["name"]: f["properties"] for f in fc["features"]}
    assert by_name["Handmade Chapel"]["category"] == "worship"
    assert by_name["Handmade Chapel"]["osm_type"] == "node"
    assert by_name["Handmade Green"]["category"] == "parks"
    assert by_name["Handmade Green"]["osm_type"] == "way"


def test_place_without_network_says_so(tmp_path: Path) -> None:
    # Point osmnx at a closed local port: the same failure as having no internet.
    result = run(
        "load",
        "--place",
        "York, UK",
        data_dir=tmp_path / "data",
        env={"OURPATCH_NOMINATIM_URL": "http://127.0.0.1:9/", "OURPATCH_OVERPASS_URL": "http://127.0.0.1:9/"},
    )
    assert result.returncode == 2
    assert "needs an internet connection" in result.stderr
    assert "Traceback" not in result.stderr


HANDMADE_OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand-made test fixture">
  <node id="1" lat="53.95" lon="-1.08" version="1"><tag k="amenity" v="place_of_worship"/><tag k="name" v="Handmade Chapel"/></node>
  <node id="2" lat="53.951" lon="-1.081" version="1"/>
  <node id="3" lat="53.951" lon="-1.079" version="1"/>
  <node id="4" lat="53.953" lon="-1.079" version="1"/>
  <node id="5" lat="53.953" lon="-1.081" version="1"/>
  <way id="10" version="1"><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="5"/><nd ref="2"/>
    <tag k="leisure" v="park"/><tag k="name" v="Handmade Green"/></way>
  <way id="11" version="1"><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/></way>
</osm>
"""


def test_damaged_saved_data_is_reported_and_a_damaged_default_rebuilt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run("categories", data_dir=data).returncode == 0
    (data / "default" / "assets.parquet").write_bytes(b"garbage")
    assert run("categories", data_dir=data).returncode == 0  # the embedded default is rebuilt
    (data / "extract").mkdir()
    (data / "extract" / "meta.json").write_text(json.dumps({"format_version": sources.FORMAT_VERSION}))
    (data / "extract" / "assets.parquet").write_bytes(b"garbage")
    result = run("categories", data_dir=data)
    assert result.returncode == 2
    assert "damaged" in result.stderr and "python -m layers load" in result.stderr


def test_gdal_reads_the_within_output(tmp_path: Path, cli_data_dir: Path) -> None:
    import pyogrio

    result = run("within", str(write(tmp_path, SENATE_AREA)), data_dir=cli_data_dir)
    out = tmp_path / "inside.geojson"
    out.write_text(result.stdout)
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == len(json.loads(result.stdout)["features"])
    assert frame.crs.to_epsg() == 4326
    assert "Helsingin tuomiokirkko" in set(frame["name"])
    assert frame["osm_id"].dtype.kind == "i"


def test_isochrone_prints_a_feature_that_within_accepts(tmp_path: Path, cli_data_dir: Path) -> None:
    result = run("isochrone", "--lon", "24.9470", "--lat", "60.1735", "--minutes", "10", data_dir=cli_data_dir)
    assert result.returncode == 0, result.stderr
    feature = json.loads(result.stdout)
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert feature["properties"]["minutes"] == 10 and feature["properties"]["mode"] == "walk"
    area_file = tmp_path / "walk.geojson"
    area_file.write_text(result.stdout)
    inside = run("within", str(area_file), data_dir=cli_data_dir)
    assert inside.returncode == 0
    names = {f["properties"]["name"] for f in json.loads(inside.stdout)["features"]}
    assert "Kaisaniemen puisto" in names


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--lon", "25.6", "--lat", "60.17", "--minutes", "10"], "outside the loaded map"),
        (["--lon", "24.947", "--lat", "60.1735", "--minutes", "90"], "Minutes must be"),
        (["--lon", "24.947", "--lat", "60.1735", "--minutes", "10", "--mode", "car"], "invalid choice"),
        (["--lon", "east", "--lat", "60.1735", "--minutes", "10"], "invalid float"),
        (["--lat", "60.1735", "--minutes", "10"], "required"),
    ],
)
def test_isochrone_bad_input(cli_data_dir: Path, args: list[str], words: str) -> None:
    result = run("isochrone", *args, data_dir=cli_data_dir)
    assert result.returncode == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_load_saved_by_an_older_version_is_reloaded_from_its_file(tmp_path: Path, helsinki_pbf: Path) -> None:
    data = tmp_path / "data"
    copy = tmp_path / "my-town.osm.pbf"
    copy.write_bytes(helsinki_pbf.read_bytes())
    assert run("load", "--pbf", str(copy), data_dir=data).returncode == 0
    meta = json.loads((data / "extract" / "meta.json").read_text())
    (data / "extract" / "meta.json").write_text(json.dumps({**meta, "format_version": 0}))
    assert run("categories", data_dir=data).returncode == 0
    assert json.loads((data / "extract" / "meta.json").read_text())["name"] == "my-town.osm.pbf"
    copy.unlink()
    meta = json.loads((data / "extract" / "meta.json").read_text())
    (data / "extract" / "meta.json").write_text(json.dumps({**meta, "format_version": 0}))
    result = run("categories", data_dir=data)
    assert result.returncode == 2 and "older version" in result.stderr
