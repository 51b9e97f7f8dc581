"""Checks of exported files with GDAL's own tools: GDAL 3.6's `validate_gpkg.py` (Debian's
python3-gdal, run with /usr/bin/python3, not the venv) and Debian's `ogrinfo`. In CI (CI=true) a
missing tool fails the test rather than skipping it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
VALIDATE_GPKG = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")


def _missing(what: str) -> None:
    message = f"{what} is not installed (apt-get install python3-gdal gdal-bin; .ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def validate_gpkg(path: Path) -> subprocess.CompletedProcess[str]:
    """GDAL's GeoPackage validator on `path` (exit code 0 when valid)."""
    if not (SYSTEM_PYTHON.exists() and VALIDATE_GPKG.exists()):
        _missing("GDAL's validate_gpkg.py")
    return subprocess.run(
        [str(SYSTEM_PYTHON), str(VALIDATE_GPKG), str(path)], capture_output=True, text=True, check=False, timeout=120
    )


def assert_valid_gpkg(path: Path) -> None:
    result = validate_gpkg(path)
    assert result.returncode == 0, f"validate_gpkg.py rejects {path.name}: {result.stdout}{result.stderr}"


def ogrinfo_geometry_types(path: Path | str) -> dict[str, str]:
    """Layer name -> geometry type, as Debian's GDAL (3.6) `ogrinfo` reports them."""
    exe = shutil.which("ogrinfo")
    if exe is None:
        _missing("ogrinfo (gdal-bin)")
        raise AssertionError  # not reached
    out = subprocess.run(
        [exe, "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    names = re.findall(r"^Layer name: (.+)$", out, flags=re.M)
    types = re.findall(r"^Geometry: (.+)$", out, flags=re.M)
    assert len(names) == len(types), out
    return dict(zip(names, types, strict=True))


def ogr2ogr_to_shapefiles(path: Path, folder: Path) -> dict[str, int]:
    """Debian's GDAL 3.6 `ogr2ogr` converts every table of `path` to a shapefile in `folder`;
    returns shapefile name -> feature count as `ogrinfo` reads them back."""
    exe = shutil.which("ogr2ogr")
    if exe is None:
        _missing("ogr2ogr (gdal-bin)")
        raise AssertionError  # not reached
    subprocess.run(
        [exe, "-f", "ESRI Shapefile", str(folder), str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    counts = {}
    for shp in sorted(folder.glob("*.shp")):
        out = subprocess.run(
            ["ogrinfo", "-ro", "-so", "-al", str(shp)], capture_output=True, text=True, check=True, timeout=120
        ).stdout
        counts[shp.stem] = int(re.search(r"^Feature Count: (\d+)$", out, flags=re.M).group(1))  # type: ignore[union-attr]
    return counts
