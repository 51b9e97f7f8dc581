"""Several app servers, one database: the data versions every server's caches are keyed on.

Each test runs on SQLite and on PostGIS. A second server is a second process on the same store,
writing through the same domain functions; this process must see the stamp move and rebuild
what it shows from the store's new rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import Point, box

from layers import catalogue, store
from layers.analysis import local_spec
from layers.groups import accounts, community, sessions
from layers.osm import sources
from layers.settings import REPO_ROOT

PASSWORD = "a long enough password"


def _stamp(version: str) -> int:
    """The number at the end of a stamp (what comes before names the store)."""
    return int(version.rsplit(":", 1)[1])


def _people() -> tuple[accounts.User, accounts.User]:
    editor = accounts.add_user("Eeva Editor", "editor", PASSWORD, group="Handmade Friends")
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    return editor, moderator


KAISANIEMI = "osm:relation/6627217"  # Kaisaniemen puisto, in the embedded extract


def test_what_residents_can_see_moves_the_community_stamp_and_nothing_else_does(
    each_store: str, helsinki: sources.Extract
) -> None:
    """The stamp keys every server's layers: it moves on each write that may change the published
    map (a publish, a withdrawal, an edit or link change of a published asset, a group's rename)
    and on none that cannot (a pending edit, its links, a rejection of it, a sign-in, a local)."""
    editor, moderator = _people()
    admin = accounts.add_user("Aino Admin", "admin", PASSWORD)
    sources.current()  # the map is prepared in the data folder before anything is written
    seen = [_stamp(store.community_version())]
    layers = [catalogue.version()]

    def moved() -> bool:
        now = _stamp(store.community_version())
        went_up = now > seen[-1]
        assert now >= seen[-1]
        seen.append(now)
        shown = catalogue.version()  # what a page run keys its layers on moves with it
        assert (shown != layers[-1]) == went_up
        layers.append(shown)
        return went_up

    def on_map() -> set[str]:
        return set(catalogue.all_assets(helsinki)["name"].dropna())

    locals_before = store.locals_version()
    _, code = sessions.start(editor)  # a sign-in changes no layer
    assert sessions.claim(code) is not None
    assert not moved()

    # Pending work is seen by its group and the moderators only: the map stays as it was.
    club = {"name": "Handmade Stamp Club", "geometry": Point(24.95, 60.17), "description": "Songs."}
    asset = community.create_asset(editor, club)
    assert not moved()
    version = community.update_asset(editor, asset, {**club, "description": "Songs, draft two."}, expected_version=1)
    assert not moved()
    linked = {**club, "links": [{"relation": "cares_for", "target": KAISANIEMI}]}
    version = community.update_asset(editor, asset, linked, expected_version=version)
    assert not moved()
    assert store.set_for_tests("asset_links", {"target_osm_id": 1}, {"asset_id": asset}) == 1  # a link alone
    assert not moved()
    assert store.set_for_tests("asset_links", {"target_osm_id": 6627217}, {"asset_id": asset}) == 1
    version = community.reject(moderator, asset, "Say when you meet.", expected_version=version)
    assert not moved()
    version = community.update_asset(editor, asset, {**linked, "schedule": "Fridays"}, expected_version=version)
    assert not moved()
    assert "Handmade Stamp Club" not in on_map()

    # Published: on the map, and every later change to it moves the stamp.
    version = community.publish(moderator, asset, expected_version=version)
    assert moved()
    assert "Handmade Stamp Club" in on_map()
    back = catalogue.all_assets(helsinki).set_index("id").loc[KAISANIEMI, "note"]
    assert "Cared for by Handmade Stamp Club" in back
    version = community.update_asset(  # a moderator's edit is published at once
        moderator, asset, {**linked, "description": "Songs and stories."}, expected_version=version
    )
    assert moved()
    assert store.set_for_tests("asset_links", {"target_osm_id": 1}, {"asset_id": asset}) == 1  # a link alone
    assert moved()
    assert store.set_for_tests("asset_links", {"target_osm_id": 6627217}, {"asset_id": asset}) == 1
    assert moved()
    community.verify(editor, asset)  # its freshness is part of its note ("Not checked since …")
    assert moved()
    accounts.rename_group(admin, "Handmade Friends", "Handmade Friends of Stamps")  # "Group: …"
    assert moved()
    assert any("Group: Handmade Friends of Stamps" in n for n in catalogue.all_assets(helsinki)["note"].dropna())
    renamed = accounts.get_user(editor.id)  # the editor's group is now called that
    assert renamed is not None
    editor = renamed

    # An editor's edit of a published asset takes it off the map until a moderator looks again.
    current = store.get_asset(asset)
    assert current is not None
    changed = {**linked, "name": "Handmade Stamp Club!"}
    version = community.update_asset(editor, asset, changed, expected_version=current.version)
    assert moved()
    assert not {"Handmade Stamp Club", "Handmade Stamp Club!"} & on_map()
    changed = {**linked, "name": "Handmade Stamp Club 2"}
    version = community.update_asset(editor, asset, changed, expected_version=version)
    assert not moved()  # pending again: still nothing on the map changes
    version = community.publish(moderator, asset, expected_version=version)
    assert moved()
    assert "Handmade Stamp Club 2" in on_map()
    version = community.reject(moderator, asset, "Closed for the winter.", expected_version=version)
    assert moved()  # withdrawn from the map
    assert "Handmade Stamp Club 2" not in on_map()

    community.create_assets(
        moderator,
        [{"name": f"Handmade Import {n}", "geometry": Point(24.94 + n / 1000, 60.17)} for n in range(3)],
        group="Handmade Importers",
        publish=True,
    )
    assert moved()
    community.create_assets(
        moderator,
        [{"name": f"Handmade Pending Import {n}", "geometry": Point(24.93 + n / 1000, 60.17)} for n in range(3)],
        group="Handmade Importers",
    )
    assert not moved()

    # A refused change moves nothing: the store and its stamp are as they were.
    before = store.digest()
    with pytest.raises(community.ChangedMeanwhileError):
        community.publish(moderator, asset, expected_version=1)
    assert not moved() and store.digest() == before
    assert store.locals_version() == locals_before  # no saved local was touched by any of it

    # Saving a local moves the locals' stamp (aggregates are cached on it), not the map's.
    local_spec.save(
        "Handmade stamp local",
        local_spec.LocalSpec().to_json(),
        box(24.945, 60.168, 24.955, 60.172).wkt,
        source="ip:192.0.2.1",
    )
    assert store.locals_version() != locals_before
    assert not moved()


def test_a_publish_on_another_server_moves_this_servers_stamp_and_layers(
    each_store: str, helsinki: sources.Extract
) -> None:
    """The other server is another process on the same store (same environment). This one built
    its layers under one stamp; after the other publishes, the stamp here has moved and the
    layers built under the new stamp hold the new asset."""
    shown = catalogue.version()
    assert "Handmade Other Server Choir" not in set(catalogue.all_assets(helsinki)["name"])
    other_server = (
        "from shapely.geometry import Point\n"
        "from tests.handmade import add_published_handmade_asset\n"
        "add_published_handmade_asset('Handmade Other Server Choir', Point(24.951, 60.171))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", other_server],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert catalogue.version() != shown
    assert "Handmade Other Server Choir" in set(catalogue.all_assets(helsinki)["name"])


def test_both_backends_stamp_the_same_tables() -> None:
    from layers.store import postgis
    from layers.store import sqlite as store_sqlite

    assert postgis.STAMPED == store_sqlite.STAMPED
    assert postgis.VERSIONED == store_sqlite.VERSIONED == ("community", "locals", "osm_load")
    seeded = next(step for step in postgis.MIGRATIONS[8 - 1] if step.startswith("INSERT INTO data_versions"))
    assert all(f"'{name}'" in seeded for name in postgis.STAMPED)
    seeded = next(step for step in postgis.MIGRATIONS[9 - 1] if step.startswith("INSERT INTO data_versions"))
    assert f"'{postgis.OSM_LOAD}'" in seeded


def test_stamps_never_repeat_when_a_store_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store made again from nothing (or restored) must not reuse the stamps a running server
    has cached layers under: stamps start at the time, in microseconds."""
    stamps = []
    for n in range(2):
        monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path / "same"))
        monkeypatch.delenv("OURPATCH_DATABASE_URL", raising=False)
        if n:
            store.db_path().unlink()
        stamps.append(store.community_version())
    assert stamps[0] != stamps[1] and _stamp(stamps[1]) > _stamp(stamps[0])


def test_the_health_check_answers_only_while_the_store_does(each_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from routes import health

    client = TestClient(Starlette(routes=health.ROUTES))
    ok = client.get("/health")
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    assert client.head("/health").status_code == 200
    assert client.post("/health").status_code == 405
    # The database goes away: out of rotation, with one sentence and nothing of where it was.
    monkeypatch.setenv("OURPATCH_DATABASE_URL", "postgresql://planner:s3cret@127.0.0.1:1/ourpatch")
    down = client.get("/health")
    assert down.status_code == 503
    assert down.json() == {"ok": False, "error": "This server cannot reach its data store."}
    assert "s3cret" not in down.text and "127.0.0.1" not in down.text


@pytest.mark.parametrize("each_store", ["postgis"], indirect=True)
def test_the_postgis_stamp_survives_a_dropped_connection(each_store: str) -> None:
    """The data version is read over one connection kept open; when the database drops it (a
    restart, a failover) the next read opens another and still sees every change."""
    import psycopg

    from layers.store import postgis
    from tests.handmade import add_published_handmade_asset

    before = _stamp(store.community_version())
    held = postgis._STAMPS._conn
    assert held is not None and not held.closed
    with psycopg.connect(postgis._STAMPS._url or "", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [held.info.backend_pid])
    add_published_handmade_asset("Handmade After The Drop", Point(24.95, 60.17))
    assert _stamp(store.community_version()) > before
    assert postgis._STAMPS._conn is not held


def test_a_dbas_own_sql_moves_the_community_stamp_only_where_residents_see_it(each_store: str) -> None:
    """Writes made outside the app (a DBA's SQL, several rows at a time) follow the same rule:
    the triggers look at the rows each statement touched, as they were and as they are."""
    import psycopg

    from tests.handmade import add_published_handmade_asset

    shown = add_published_handmade_asset("Handmade DBA Shown", Point(24.95, 60.17))
    hidden = add_published_handmade_asset("Handmade DBA Pending", Point(24.951, 60.17), status="pending")
    point = "'POINT (24.952 60.17)'" if each_store == "sqlite" else "ST_GeomFromText('POINT (24.952 60.17)', 4326)"
    geometry = "geometry_wkt" if each_store == "sqlite" else "geometry"

    def run(statement: str) -> bool:
        """Run one statement as a DBA would; did the community stamp move?"""
        before = _stamp(store.community_version())
        if each_store == "sqlite":
            with store.connect() as db:
                db.execute(statement)
        else:
            with psycopg.connect(os.environ["OURPATCH_DATABASE_URL"], autocommit=True) as conn:
                conn.execute(statement.encode())
        return _stamp(store.community_version()) > before

    new_pending = (
        f"INSERT INTO community_assets (name, category, {geometry}, status, kind, version) "  # noqa: S608
        f"VALUES ('Handmade DBA Draft', 'community_groups', {point}, 'pending', 'place', 1)"
    )
    link = "INSERT INTO asset_links (asset_id, relation, target_asset_id) VALUES ({}, 'meets_at', {})"
    assert not run(new_pending)
    assert not run("UPDATE community_assets SET name = 'Handmade DBA Draft 2' WHERE name = 'Handmade DBA Draft'")
    assert not run(link.format(hidden, shown))
    assert not run(f"DELETE FROM asset_links WHERE asset_id = {hidden}")  # noqa: S608
    assert not run("DELETE FROM community_assets WHERE name = 'Handmade DBA Draft 2'")
    assert not run("UPDATE community_assets SET name = name WHERE id = -1")  # touches no row
    assert run("UPDATE community_assets SET description = 'Checked by the DBA'")  # one of the rows is published
    assert run(link.format(shown, hidden))
    assert run(f"DELETE FROM asset_links WHERE asset_id = {shown}")  # noqa: S608
    assert run(f"UPDATE community_assets SET status = 'published' WHERE id = {hidden}")  # noqa: S608
    assert run(f"UPDATE community_assets SET status = 'pending' WHERE id = {shown}")  # noqa: S608
    assert run(f"DELETE FROM community_assets WHERE id = {hidden}")  # noqa: S608  (it was published)
    assert not run(f"DELETE FROM community_assets WHERE id = {shown}")  # noqa: S608  (pending by then)
    assert run("INSERT INTO groups (name, created_at) VALUES ('Handmade DBA Group', '2026-01-01')")
    assert [a.name for a in store.asset_rows()] == []
