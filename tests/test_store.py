"""The community store: migrations, published assets joining the layers, and the store contract
run on both backends (SQLite always; PostGIS when available, see tests/pg.py)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LineString, Point, box

from layers import catalogue, settings, store
from layers.analysis import local_spec, query
from layers.errors import ConflictError, StorageError, TooManyAttemptsError
from layers.groups import accounts, community, sessions
from layers.io import geojson
from layers.osm import sources
from layers.settings import REPO_ROOT
from layers.store import sqlite as store_sqlite
from tests.handmade import add_published_handmade_asset


def test_migrations_apply_once_and_a_second_run_is_a_no_op(fresh_data_dir: Path) -> None:
    with store.connect() as db:
        assert store.schema_version(db) == len(store.MIGRATIONS)
        assert "community_assets" in db.table_names()
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store.connect() as db:
        assert store.migrate(db) == len(store.MIGRATIONS)


@pytest.mark.usefixtures("each_store")
def test_only_published_community_assets_are_shown() -> None:
    add_published_handmade_asset("Handmade Friends of Esplanadi", Point(24.9500, 60.1677))
    add_published_handmade_asset("Handmade pending group", Point(24.9501, 60.1677), status="pending")
    assets = catalogue.all_assets()
    names = set(assets["name"].dropna())
    assert "Handmade Friends of Esplanadi" in names
    assert "Handmade pending group" not in names
    found = query.AssetIndex(assets).within(Point(24.9500, 60.1677).buffer(0.001), ["community_groups"])
    fc = geojson.feature_collection(found)
    props = fc["features"][0]["properties"]
    assert props["source"] == "community" and props["id"].startswith("community:")
    assert "osm_type" not in props and "osm_id" not in props


@pytest.mark.usefixtures("each_store")
def test_version_changes_when_the_store_changes() -> None:
    catalogue.all_assets()
    before = catalogue.version()
    add_published_handmade_asset("Handmade group", Point(24.95, 60.17))
    assert catalogue.version() != before


def test_each_backend_migrates_in_step_and_a_second_run_is_a_no_op(each_store: str) -> None:
    store.group_names()  # opens (and migrates) the store
    if each_store == "sqlite":
        with store.connect() as db:
            assert store.migrate(db) == len(store.MIGRATIONS)
        return
    from layers.store.postgis import MIGRATIONS, PostgisStore

    backend = store.backend()
    assert isinstance(backend, PostgisStore)
    assert len(MIGRATIONS) == len(store_sqlite.MIGRATIONS)  # numbered alike, kept in step
    with backend.connect() as conn:
        assert backend.migrate(conn) == len(MIGRATIONS)
        kinds = {
            r["column_name"]: r["udt_name"]
            for r in conn.execute(
                "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name IN ('community_assets', 'saved_locals')"
            )
        }
        gist = {
            r["indexname"]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '%USING gist%'"
            )
        }
        srid = conn.execute("SELECT Find_SRID(current_schema()::text, 'community_assets', 'geometry') AS s").fetchone()
    assert kinds["geometry"] == "geometry" and kinds["area"] == "geometry"
    assert {"community_assets_geometry", "saved_locals_area"} <= gist
    assert srid is not None and srid["s"] == 4326
    # the same tables and columns as SQLite (geometry as a real column, WKT text there)
    with store_sqlite.connect() as db:
        for table in backend.tables():
            if table == "ourpatch_migrations":
                continue
            wanted = [c.name for c in db.table(table).columns]
            have = [{"geometry": "geometry_wkt", "area": "area_wkt"}.get(c, c) for c in backend.columns(table)]
            assert sorted(have) == sorted(wanted), table


def test_the_area_query_gives_the_same_answer_as_shapely_on_each_backend(each_store: str) -> None:
    from tests.handmade import add_published_handmade_asset

    shapes = {
        "Handmade inside point": Point(24.9500, 60.1700),
        "Handmade outside point": Point(24.9700, 60.1800),
        "Handmade crossing park": box(24.9530, 60.1690, 24.9600, 60.1710),
        "Handmade path through": LineString([(24.9400, 60.1705), (24.9800, 60.1705)]),
        "Handmade far park": box(25.0, 60.2, 25.01, 60.21),
        "Handmade pending inside": Point(24.9510, 60.1702),
    }
    ids = {
        name: add_published_handmade_asset(name, geom, status="pending" if "pending" in name else "published")
        for name, geom in shapes.items()
    }
    area = box(24.9450, 60.1680, 24.9550, 60.1720)
    expected = sorted(ids[n] for n, g in shapes.items() if g.intersects(area) and "pending" not in n)
    assert len(expected) == 3
    assert store.assets_within(area, status="published") == expected
    assert store.assets_within(area) == sorted([*expected, ids["Handmade pending inside"]])
    assert store.assets_within(box(10, 10, 11, 11)) == []
    # and the rows come back with the geometry they went in with
    rows = {r.name: r for r in store.asset_rows()}
    assert all(
        isinstance(rows[n].geometry, type(g)) and rows[n].geometry.equals_exact(g, 1e-12)  # type: ignore[union-attr]
        for n, g in shapes.items()
    )


def test_eight_writers_lose_no_edit_on_each_backend(each_store: str) -> None:
    """8 writers x 25 edits of one asset, each read-then-write with optimistic locking (retrying
    on ConflictError): every edit lands exactly once, the versions count up without a gap."""
    group = store.group_id("Handmade Writers", create=True)
    assert group is not None
    [asset_id] = store.insert_assets(
        [store.AssetDraft("Handmade counter", "community_groups", "place", Point(24.95, 60.17), description="")],
        group=group,
        user=None,
        status="pending",
    )
    conflicts = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                while True:
                    row = store.get_asset(asset_id)
                    assert row is not None
                    try:
                        store.change_asset(
                            asset_id,
                            {"description": f"{row.description}{n}.{i};"},
                            expected_version=row.version,
                            action="edited",
                            user=None,
                        )
                        break
                    except ConflictError:
                        conflicts.append(n)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    row = store.get_asset(asset_id)
    assert row is not None and row.version == 1 + 8 * 25
    edits = (row.description or "").rstrip(";").split(";")
    assert sorted(edits) == sorted(f"{n}.{i}" for n in range(8) for i in range(25))
    history = store.asset_history(asset_id)
    assert [h.version for h in history] == list(range(1, 2 + 8 * 25))
    assert history[-1].asset.description == row.description  # each entry keeps the asset as it then was


def test_parallel_sign_in_attempts_are_counted_exactly_on_each_backend(each_store: str) -> None:
    free = 4
    now = time.time()
    results: list[float] = []

    def attempt() -> None:
        wait, _ = store.reserve_sign_in_attempt(
            ["name:handmade"], now, 600.0, lambda key, failures: 0.0 if failures < free else 60.0
        )
        results.append(wait)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 16
    assert results.count(0.0) == free  # the fourth sets the delay, the other twelve wait
    assert store.table_rows("sign_in_attempts")[0]["failures"] == free


def test_a_conflict_changes_nothing_on_each_backend(each_store: str) -> None:
    group = store.group_id("Handmade Group", create=True)
    assert group is not None
    [asset_id] = store.insert_assets(
        [store.AssetDraft("Handmade hall", "community_groups", "place", Point(24.95, 60.17))],
        group=group,
        user=None,
        status="pending",
    )
    before = store.digest()
    with pytest.raises(ConflictError):
        store.change_asset(asset_id, {"name": "Handmade taken"}, expected_version=7, action="edited", user=None)
    with pytest.raises(ValueError, match="not asset fields"):
        store.change_asset(
            asset_id, {"version; drop table users": 1}, expected_version=None, action="edited", user=None
        )
    assert store.digest() == before


def test_an_unreachable_database_is_one_sentence_without_the_password(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OURPATCH_DATABASE_URL", "postgresql://planner:s3cret@127.0.0.1:1/ourpatch")
    assert settings.database_url() is not None
    with pytest.raises(
        StorageError,
        match=r"^The database postgresql://planner:\*\*\*@127.0.0.1:1/ourpatch "
        r"cannot be reached, so nothing was saved \(cause: ",
    ) as caught:
        store.group_names()
    assert "s3cret" not in str(caught.value)


def test_two_app_servers_share_sign_ins_and_delays_through_one_database(each_store: str) -> None:
    """A second process (another app server) on the same store sees the session this one
    started, and the wrong passwords it counted delay the name here too."""
    editor = accounts.add_user("Eeva Editor", "editor", "a long enough password", group="Handmade Group")
    _, code = sessions.start(editor)
    token = sessions.claim(code)
    assert token is not None
    other_server = (
        "import sys\n"
        "from layers import settings\n"
        "from layers.groups import accounts, sessions\n"
        "found = sessions.from_token(sys.argv[1])\n"
        "print(found.user.name if found else 'nobody')\n"
        "free = settings.sign_in_free_failures_per_name\n"
        "accounts._delay_s = lambda key, failures: 0.0 if failures < free else 600.0  # a load-proof delay\n"
        "for n in range(free):\n"
        "    accounts.authenticate('Eeva Editor', 'wrong guess', source=f'ip:198.51.100.{n}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", other_server, token],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Eeva Editor"
    [counted] = [r for r in store.table_rows("sign_in_attempts") if r["key"] == "name:eeva editor"]
    with pytest.raises(TooManyAttemptsError, match="Too many wrong passwords for this name"):  # right after them
        accounts.authenticate(
            "Eeva Editor", "a long enough password", source="ip:192.0.2.9", now=counted["last_failure"]
        )


def test_the_test_helpers_are_no_back_door(fresh_data_dir: Path) -> None:
    for table, values in [
        ("users", {"role": "admin"}),
        ("sign_in_sessions", {"last_seen": "2000-01-01"}),
        ("community_assets", {"name": "x"}),
        ("community_assets; drop table users", {"status": "x"}),
    ]:
        with pytest.raises(ValueError, match="cannot set"):
            store.set_for_tests(table, values, {})
    with pytest.raises(ValueError, match="cannot read"):
        store.table_rows("sqlite_master")


def test_migration_9_upgrades_a_store_at_8_that_holds_data_on_each_backend(
    each_store: str, helsinki: sources.Extract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store made and used by the code of migration 8 (assets published and pending, a saved
    local, a row in the old sign_in_failures) is opened by today's code: migration 9 keeps every
    row and both stamps, adds the loaded region's version, drops sign_in_failures, and from then
    on a pending edit no longer moves the community stamp (at 8 it did)."""
    from layers.store import postgis

    module: Any = store_sqlite if each_store == "sqlite" else postgis
    assert len(module.MIGRATIONS) == 9

    def tables_and_version() -> tuple[set[str], int]:
        if each_store == "sqlite":
            with store.connect() as db:
                return set(db.table_names()), store.schema_version(db)
        backend = store.backend()
        assert isinstance(backend, postgis.PostgisStore)
        with backend.connect() as conn:
            return set(backend.tables()), backend.schema_version(conn)

    club = {"name": "Handmade Upgrade Club", "geometry": Point(24.95, 60.17), "description": "Songs."}
    with monkeypatch.context() as at_8:
        at_8.setattr(module, "MIGRATIONS", module.MIGRATIONS[:8])
        at_8.setattr(store, "_postgis", {})  # a store object of the old code, forgotten after
        editor = accounts.add_user("Uma Upgrader", "editor", "a long enough password", group="Handmade Upgraders")
        moderator = accounts.add_user("Milo Moderator", "moderator", "a long enough password")
        shown = community.create_asset(editor, {**club, "name": "Handmade Shown Before"})
        community.publish(moderator, shown, expected_version=1)
        pending = community.create_asset(editor, club)
        token = local_spec.save(
            "Handmade upgrade local", local_spec.LocalSpec().to_json(), box(24.945, 60.168, 24.955, 60.172).wkt
        )
        tables, version = tables_and_version()
        assert version == 8 and "sign_in_failures" in tables
        if each_store == "sqlite":
            with store.connect() as db:
                db.execute("INSERT INTO sign_in_failures (name, at) VALUES ('Uma Upgrader', '2026-01-01')")
        else:
            backend = store.backend()
            assert isinstance(backend, postgis.PostgisStore)
            with backend.connect() as conn:
                conn.execute("INSERT INTO sign_in_failures (name, at) VALUES ('Uma Upgrader', '2026-01-01')")
        community_at_8 = store.community_version()
        version = community.update_asset(editor, pending, {**club, "description": "Draft two."}, expected_version=1)
        assert store.community_version() != community_at_8  # at 8, even a pending edit moved it
        community_at_8, locals_at_8 = store.community_version(), store.locals_version()

    tables, schema = tables_and_version()  # today's code opens (and migrates) the store
    assert schema == 9 and "sign_in_failures" not in tables and "data_versions" in tables
    assert store.community_version() == community_at_8 and store.locals_version() == locals_at_8
    assert int(store.osm_load_version().rsplit(":", 1)[1]) > 0
    assert [(r.name, r.status) for r in store.asset_rows()] == [
        ("Handmade Shown Before", "published"),
        ("Handmade Upgrade Club", "pending"),
    ]
    found = local_spec.saved(token)
    assert found is not None and found.name == "Handmade upgrade local"
    assert "Handmade Shown Before" in set(catalogue.all_assets(helsinki)["name"])

    version = community.update_asset(editor, pending, {**club, "description": "Draft three."}, expected_version=version)
    assert store.community_version() == community_at_8  # pending: residents see nothing new
    community.publish(moderator, pending, expected_version=version)
    assert store.community_version() != community_at_8
    assert "Handmade Upgrade Club" in set(catalogue.all_assets(helsinki)["name"])
