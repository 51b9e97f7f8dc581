"""Bulk import: every format, CRS handling, all-or-nothing, hostile files, the command line,
eight writers at once, and kill -9 in the middle of a large import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from multiprocessing import get_context
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import Geod, Transformer
from shapely.geometry import Point, box

from layers import settings, store
from layers.errors import BadInputError, NotAllowedError
from layers.groups import accounts, community, importer
from layers.settings import REPO_ROOT

PASSWORD = "a long enough password"
GROUP = "Handmade Friends Group"


@pytest.fixture
def editor(fresh_data_dir: Path) -> accounts.User:
    return accounts.add_user("Eeva Editor", "editor", PASSWORD, group=GROUP)


def _count() -> int:
    return len(store.asset_rows())


def _write_frame(tmp_path: Path, name: str, driver: str, crs: str = "EPSG:4326") -> Path:
    frame = gpd.GeoDataFrame(
        {
            "name": ["Handmade Toddler Group", "Pyhän Kolminaisuuden nuoret"],
            "category": ["community_groups"] * 2,
            "schedule": ["Mondays 10:00", "Fridays 18:00"],
            "cares_for": ["osm:relation/6627217", ""],
        },
        geometry=[Point(24.9510, 60.1700), box(24.9520, 60.1705, 24.9530, 60.1712)],
        crs="EPSG:4326",
    ).to_crs(crs)
    path = tmp_path / name
    if driver == "ESRI Shapefile":
        folder = tmp_path / "shp"
        folder.mkdir()
        frame[frame.geom_type == "Point"].to_file(folder / "assets.shp", driver=driver)
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.iterdir():
                archive.write(part, part.name)
    else:
        frame.to_file(path, driver=driver)
    return path


@pytest.mark.parametrize(
    ("name", "driver", "crs", "expected"),
    [
        ("assets.geojson", "GeoJSON", "EPSG:4326", 2),
        ("assets.gpkg", "GPKG", "EPSG:3067", 2),
        ("assets.zip", "ESRI Shapefile", "EPSG:27700", 1),
        ("assets.kml", "KML", "EPSG:4326", 2),
    ],
)
def test_formats_and_crs(
    tmp_path: Path, editor: accounts.User, name: str, driver: str, crs: str, expected: int
) -> None:
    path = _write_frame(tmp_path, name, driver, crs)
    result = importer.import_file(editor, path, group=GROUP)
    assert len(result.ids) == expected
    rows = {r.name: r for r in store.asset_rows()}
    toddlers = rows["Handmade Toddler Group"]
    x, y = toddlers.geometry.x, toddlers.geometry.y
    assert abs(x - 24.9510) < 1e-6 and abs(y - 60.1700) < 1e-6  # within about 5 cm after the round trip
    assert toddlers.status == "pending"
    if expected == 2:
        assert "Pyhän Kolminaisuuden nuoret" in rows  # non-ASCII survives


EXPORT_AREA = box(24.9400, 60.1660, 24.9560, 60.1720)
NAMED_LAYERS = ["libraries", "worship", "health"]  # every asset of these in EXPORT_AREA has a name


@pytest.mark.parametrize(
    ("fmt", "suffix", "crs"),
    [
        ("shp", "zip", "EPSG:3067"),
        ("gpkg", "gpkg", "EPSG:3067"),
        ("csv", "zip", "EPSG:3067"),
        ("kml", "kml", None),
        ("geojson", "geojson", None),
    ],
)
def test_what_export_writes_imports_back(
    tmp_path: Path, editor: accounts.User, fmt: str, suffix: str, crs: str | None
) -> None:
    """Import accepts every export: the Shapefile zip with a .shp per geometry type, the
    GeoPackage with a table per category and geometry type, the CSV zip, the KML folders."""
    from layers.analysis import query
    from layers.io import export
    from layers.osm import sources

    want = query.AssetIndex(sources.current().assets).within(EXPORT_AREA, NAMED_LAYERS)
    assert set(want.geom_type) == {"Point", "Polygon"}
    out = tmp_path / f"export.{suffix}"
    export.export_to(out, fmt, layer_ids=NAMED_LAYERS, area=EXPORT_AREA, crs=crs)
    result = importer.import_file(editor, out, group=GROUP)
    assert len(result.ids) == len(want)
    rows = store.asset_rows()
    assert sorted(r.name for r in rows) == sorted(want["name"])
    assert {r.category for r in rows} == set(want["category"])
    if fmt != "kml":  # KML keeps names and geometry only
        hours = {r.name: r.opening_hours for r in rows}
        assert hours["Rikhardinkadun kirjasto"] == "Mo-Th 09:00-20:00, Fr 09:00-18:00, Sa 10:00-16:00, Su 12:00-18:00"
    kinds = {r.name: r.kind for r in rows}
    assert kinds["Pyhän Kolminaisuuden kirkko"] == "area" and kinds["Rikhardinkadun kirjasto"] == "place"


def test_geojson_where_only_some_features_have_a_link(tmp_path: Path, editor: accounts.User) -> None:
    path = tmp_path / "some-links.geojson"
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.9510 + i / 1000, 60.1700]},
            "properties": {"name": f"Handmade Group {i}", **({"cares_for": "osm:relation/6627217"} if i == 0 else {})},
        }
        for i in range(3)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = importer.import_file(editor, path, group=GROUP)
    assert len(result.ids) == 3
    linked = {
        r.name: [link.relation for link in r.links]
        for r in community.visible_assets(None, status="pending", everyone=True)
    }
    assert linked == {"Handmade Group 0": ["cares_for"], "Handmade Group 1": [], "Handmade Group 2": []}


def test_csv_lon_lat_and_easting_northing(tmp_path: Path, editor: accounts.User) -> None:
    lonlat = tmp_path / "lonlat.csv"
    lonlat.write_text(
        "name,lon,lat,website,cares_for\nHandmade Park Friends,24.9462,60.1752,https://example.org,"
        "osm:relation/6627217\n"
    )
    assert len(importer.import_file(editor, lonlat, group=GROUP).ids) == 1
    assert store.asset_rows()[0].links[0].target_osm_id == 6627217
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    e, n = to_bng.transform(24.9500, 60.1690)
    bng = tmp_path / "bng.csv"
    bng.write_text(f"name,easting,northing\nHandmade Grid Group,{e},{n}\n")
    with pytest.raises(BadInputError, match="--crs"):
        importer.import_file(editor, bng, group=GROUP)
    importer.import_file(editor, bng, group=GROUP, crs="EPSG:27700")
    grid = next(r for r in store.asset_rows() if r.name == "Handmade Grid Group")
    assert "24.95" in grid.geometry.wkt and "60.169" in grid.geometry.wkt


def test_british_national_grid_imports_through_ostn15(tmp_path: Path) -> None:
    """OS's OSTN15 test points given as easting/northing come back to their ETRS89 lon/lat (1 cm)."""
    points = gpd.pd.read_csv(REPO_ROOT / "tests" / "standards" / "ostn15" / "test_points.csv").head(12)
    path = tmp_path / "os-points.csv"
    path.write_text(
        "name,easting,northing\n"
        + "".join(
            f"Handmade OS point {r.point_id},{r.osgb36_easting},{r.osgb36_northing}\n" for r in points.itertuples()
        )
    )
    rows = importer.read_rows(path, crs="EPSG:27700")  # (importing them would be refused: far from Helsinki)
    got = {r["name"].rsplit(" ", 1)[1]: r["geometry"] for r in rows}
    geod = Geod(ellps="WGS84")
    for r in points.itertuples():
        _, _, metres = geod.inv(got[r.point_id].x, got[r.point_id].y, r.etrs89_lon, r.etrs89_lat)
        assert metres < 0.01, (r.point_id, metres)


def _zip_bomb(path: Path) -> None:
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("assets.shp", "w", force_zip64=True) as member,
    ):
        chunk = b"\0" * (16 * 1024 * 1024)
        for _ in range(33):  # 528 MB of zeros, a few hundred KB packed
            member.write(chunk)


def _many_entries(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(settings.max_zip_entries + 1):
            archive.writestr(f"f{i}.txt", "x")


HOSTILE_FILES = {
    "empty.geojson": (lambda p: p.write_bytes(b""), "is empty"),
    "garbage.geojson": (lambda p: p.write_bytes(os.urandom(2048)), "could not be read"),
    "text.geojson": (lambda p: p.write_text("hello"), "could not be read"),
    "nothing.geojson": (lambda p: p.write_text('{"type":"FeatureCollection","features":[]}'), "no features"),
    "metres.geojson": (
        lambda p: p.write_text(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"name": "Handmade"},
                            "geometry": {"type": "Point", "coordinates": [385000, 6672000]},
                        }
                    ],
                }
            )
        ),
        "not longitude/latitude",
    ),
    "swapped.csv": (lambda p: p.write_text("name,lon,lat\nHandmade Swapped,60.1752,24.9462\n"), "swapped"),
    "out-of-range.csv": (lambda p: p.write_text("name,lon,lat\nHandmade Far,24.9,95\n"), "out of range"),
    "words.csv": (lambda p: p.write_text("name,lon,lat\nHandmade Words,east,north\n"), "not numbers"),
    "no-columns.csv": (lambda p: p.write_text("name,x\nHandmade,1\n"), "needs lon and lat"),
    "long-name.csv": (lambda p: p.write_text(f"name,lon,lat\n{'x' * 10_000},24.95,60.17\n"), "at most 120"),
    "script-link.csv": (
        lambda p: p.write_text("name,lon,lat,website\nHandmade JS,24.95,60.17,javascript:alert(1)\n"),
        "http",
    ),
    "bad-email.csv": (lambda p: p.write_text("name,lon,lat,email\nHandmade Mail,24.95,60.17,<script>\n"), "Email"),
    "duplicate.csv": (
        lambda p: p.write_text("name,lon,lat\nHandmade Twice,24.95,60.17\nHandmade Twice,24.95,60.17\n"),
        "duplicate",
    ),
    "one-bad-row.csv": (lambda p: p.write_text("name,lon,lat\nHandmade Good,24.95,60.17\n,24.95,60.17\n"), "row 2"),
    "bad-link.csv": (lambda p: p.write_text("name,lon,lat,cares_for\nHandmade Link,24.95,60.17,DROP TABLE\n"), "Links"),
    "bad-category.csv": (lambda p: p.write_text("name,lon,lat,category\nHandmade Cat,24.95,60.17,pubs\n"), "Category"),
    "latin1.csv": (
        lambda p: p.write_bytes("name,lon,lat\nPyh\xe4n,24.95,60.17\n".encode("latin-1")),
        "could not be read",
    ),
    "bomb.zip": (_zip_bomb, "refused before unpacking"),
    "many.zip": (_many_entries, "refused before unpacking"),
    "not-a.zip": (lambda p: p.write_bytes(b"PK\x03\x04 not really"), "not a zip"),
    "no-shp.zip": (lambda p: zipfile.ZipFile(p, "w").writestr("readme.txt", "hi"), "should hold a shapefile"),
    "wrong.exe": (lambda p: p.write_bytes(b"MZ"), "not a file type"),
    "self-crossing.geojson": (
        lambda p: p.write_text(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"name": "Handmade Bowtie", "kind": "area"},
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [
                                    [[24.94, 60.16], [24.95, 60.17], [24.95, 60.16], [24.94, 60.17], [24.94, 60.16]]
                                ],
                            },
                        }
                    ],
                }
            )
        ),
        "not a valid area",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_files_get_one_sentence_and_change_nothing(tmp_path: Path, editor: accounts.User, name: str) -> None:
    make, words = HOSTILE_FILES[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(BadInputError) as err:
        importer.import_file(editor, path, group=GROUP)
    assert words in str(err.value)
    assert "\n" not in str(err.value)
    assert _count() == 0


def test_huge_file_refused_unread(tmp_path: Path, editor: accounts.User) -> None:
    path = tmp_path / "huge.geojson"
    with open(path, "wb") as fh:
        fh.truncate(settings.max_import_file_bytes + 1)
    with pytest.raises(BadInputError, match="larger than 50 MB"):
        importer.import_file(editor, path, group=GROUP)


def test_permissions_on_import(tmp_path: Path, editor: accounts.User) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("name,lon,lat\nHandmade OK,24.95,60.17\n")
    with pytest.raises(NotAllowedError):
        importer.import_file(editor, path, group="Somebody Else's Group")
    with pytest.raises(NotAllowedError):
        importer.import_file(editor, path, group=GROUP, publish=True)
    assert _count() == 0


def _cli(*args: str, data: Path, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OURPATCH_DATA_DIR": str(data), "OURPATCH_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "layers", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_cli_import_and_assets(tmp_path: Path, editor: accounts.User, fresh_data_dir: Path) -> None:
    accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    good = tmp_path / "good.csv"
    good.write_text("name,lon,lat,cares_for\nHandmade CLI Group,24.9462,60.1752,osm:relation/6627217\n")
    result = _cli("import", str(good), "--group", GROUP, "--user", "Eeva Editor", data=fresh_data_dir)
    assert result.returncode == 0, result.stderr
    assert "row 1: added 'Handmade CLI Group'" in result.stdout
    refused = _cli("import", str(good), "--group", GROUP, "--user", "Eeva Editor", "--publish", data=fresh_data_dir)
    assert refused.returncode == 2 and "Only a moderator" in refused.stderr
    wrong = _cli("import", str(good), "--group", GROUP, "--user", "Eeva Editor", data=fresh_data_dir, password="x" * 12)
    assert wrong.returncode == 2 and "do not match" in wrong.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,lon,lat,website\nHandmade A,24.95,60.17,https://ok.example\nHandmade B,24.95,60.17,javascript:x\n"
    )
    refused = _cli("import", str(bad), "--group", GROUP, "--user", "Mika Moderator", data=fresh_data_dir)
    assert refused.returncode == 2
    assert "bad.csv: row 2: Website" in refused.stderr and "nothing was imported" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    listing = _cli("assets", "--status", "pending", "--group", GROUP, data=fresh_data_dir)
    fc = json.loads(listing.stdout)
    assert [f["properties"]["name"] for f in fc["features"]] == ["Handmade CLI Group"]
    props = fc["features"][0]["properties"]
    assert props["group"] == GROUP and props["status"] == "pending"
    assert props["links"] == [{"relation": "cares_for", "target": "osm:relation/6627217"}]
    assert json.loads(_cli("assets", "--status", "published", data=fresh_data_dir).stdout)["features"] == []


def _verify_many(args: tuple[str, int, int, int]) -> int:
    data_dir, user_id, asset_id, times = args
    os.environ["OURPATCH_DATA_DIR"] = data_dir
    user = accounts.get_user(user_id)
    for _ in range(times):
        community.verify(user, asset_id)
    return times


def test_eight_writers_lose_nothing(editor: accounts.User, fresh_data_dir: Path) -> None:
    asset_id = community.create_asset(editor, {"name": "Handmade Busy Group", "geometry": Point(24.95, 60.17)})
    with get_context("spawn").Pool(8) as pool:
        done = pool.map(_verify_many, [(str(fresh_data_dir), editor.id, asset_id, 200)] * 8)
    assert sum(done) == 1600
    assert store.get_asset(asset_id).version == 1 + 1600
    assert len(store.asset_history(asset_id)) == 1 + 1600


def test_kill_9_during_a_large_import_leaves_the_data_as_before(
    tmp_path: Path, editor: accounts.User, fresh_data_dir: Path
) -> None:
    big = tmp_path / "big.csv"
    lines = ["name,lon,lat"] + [
        f"Handmade Group {i},{24.94 + (i % 100) * 1e-4},{60.16 + (i // 100) * 1e-4}"
        for i in range(settings.max_import_rows)
    ]
    big.write_text("\n".join(lines) + "\n")
    community.create_asset(editor, {"name": "Handmade Before", "geometry": Point(24.95, 60.17)})
    wal = store.db_path().with_name(store.DB_FILENAME + "-wal")
    killed_while_writing = 0
    for _ in range(3):
        baseline = wal.stat().st_size if wal.exists() else 0
        env = {**os.environ, "OURPATCH_DATA_DIR": str(fresh_data_dir), "OURPATCH_PASSWORD": PASSWORD}
        proc = subprocess.Popen(
            [sys.executable, "-m", "layers", "import", str(big), "--group", GROUP, "--user", "Eeva Editor"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            if wal.exists() and wal.stat().st_size > baseline + 64 * 1024:  # the transaction is writing
                proc.send_signal(signal.SIGKILL)
                killed_while_writing += 1
                break
            time.sleep(0.005)
        proc.wait()
        with store.connect() as conn:  # the SQLite file itself is sound (a check only SQLite has)
            assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        count = len(store.asset_ids())
        assert count == 1, f"after kill -9 mid-import: {count} rows (expected just the one from before)"
    assert killed_while_writing == 3
