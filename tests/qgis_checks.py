"""Opening exports the way a planner does: in QGIS. Debian's `qgis_process` (QGIS 3.22, headless)
runs its own `native:exportlayersinformation` over our files and reports, per layer, the CRS and
extent QGIS sees. In CI (CI=true) a missing QGIS fails the test rather than skipping it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest


def qgis_process() -> str:
    """Debian's wrapper script passes `--noversioncheck`, which qgis_process 3.22 itself refuses,
    so the binary it wraps is called directly when it is there."""
    exe = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    if exe is None:
        message = "QGIS is not installed (apt-get install qgis; .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return exe


def _env(workdir: Path) -> dict[str, str]:
    # headless, and a throwaway profile: QGIS keeps one under HOME
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(workdir), "HOME": str(workdir)}


def layers_as_qgis_sees_them(sources: list[str], workdir: Path) -> gpd.GeoDataFrame:
    """One row per layer source (`file` or `file|layername=X`): the `crs` QGIS sees (an authority
    id such as EPSG:27700) and the layer's extent, which QGIS gives in WGS84."""
    out = workdir / "qgis_layers_information.gpkg"
    env = _env(workdir)
    args = [
        qgis_process(),
        "run",
        "native:exportlayersinformation",
        *[f"--LAYERS={source}" for source in sources],
        f"--OUTPUT={out}",
    ]
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0 and out.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    return pyogrio.read_dataframe(out)


def points_as_qgis_reads_them(source: str, workdir: Path) -> gpd.GeoDataFrame:
    """QGIS's `Add geometry attributes` in the layer's own CRS: every point's x and y as QGIS
    reads them from the file (columns xcoord, ycoord), with the layer's other fields."""
    out = workdir / "qgis_points.gpkg"
    args = [
        qgis_process(),
        "run",
        "qgis:exportaddgeometrycolumns",
        f"--INPUT={source}",
        "--CALC_METHOD=0",
        f"--OUTPUT={out}",
    ]
    result = subprocess.run(args, capture_output=True, text=True, env=_env(workdir), check=False, timeout=300)
    assert result.returncode == 0 and out.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    return pyogrio.read_dataframe(out)
