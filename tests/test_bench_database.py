"""`make bench` without a PostGIS URL: the PostGIS figures are skipped with one clear line, and
the SQLite and pyrosm figures are still measured (real store, real extract)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks import extract_load, store_bench


def test_store_bench_without_postgis_says_so_and_measures_sqlite(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OURPATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("OURPATCH_TEST_DATABASE_URL", raising=False)
    rows = store_bench.run(30)
    out = capsys.readouterr().out
    assert (
        "PostGIS store figures skipped: no PostGIS URL (set OURPATCH_DATABASE_URL or "
        "OURPATCH_TEST_DATABASE_URL)." in out
    )
    assert [r["figure"].split(":")[-1].strip() for r in rows] == ["SQLite", "SQLite"]
    assert all(r["ours"] > 0 for r in rows)


def test_extract_bench_without_postgis_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    rows = extract_load.run(1, None)
    assert "PostGIS extract-load figures skipped: no PostGIS URL" in capsys.readouterr().out
    assert len(rows) == 1 and rows[0]["assets"] > 50 and rows[0]["ours"] > 0


def test_tiled_extract_shifts_ids_and_places(tmp_path: Path) -> None:
    """The benchmark's larger extract: 2 x 2 copies side by side, sorted, no id twice (osmium says)."""
    if shutil.which("osmium") is None:
        pytest.skip("osmium-tool is not installed (only make bench uses it)")
    from layers.osm import sources

    source = sources.embedded_default_path()
    out = extract_load.tiled_extract(source, 2, tmp_path / "t.osm.pbf")

    def info(path: Path) -> dict:
        done = subprocess.run(["osmium", "fileinfo", "-e", "-j", str(path)], check=True, capture_output=True, text=True)
        return dict(json.loads(done.stdout)["data"])

    one, four = info(source), info(out)
    for kind in ("nodes", "ways", "relations"):
        assert four["count"][kind] == 4 * one["count"][kind], kind
    assert four["objects_ordered"] and not four["multiple_versions"]
    (w0, s0, e0, n0), (w1, s1, e1, n1) = one["bbox"], four["bbox"]
    assert (w1, s1) == pytest.approx((w0, s0), abs=1e-6)
    assert (e1 - w1, n1 - s1) == pytest.approx((2 * (e0 - w0), 2 * (n0 - s0)), rel=0.01)
