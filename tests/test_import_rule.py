"""The house's import rule is enforced by ruff: a wrong arrow fails `make test`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layers.settings import REPO_ROOT

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.parametrize(
    ("path", "source", "allowed"),
    [
        ("layers/_probe.py", "import streamlit\n", False),
        ("layers/_probe.py", "import folium\n", False),
        ("layers/_probe.py", "from streamlit_folium import st_folium\n", False),
        ("mapping/_probe.py", "import folium\n", True),
        ("mapping/_probe.py", "import streamlit\n", False),
        ("views/_probe.py", "import streamlit\nimport folium\n", True),
        ("app.py", "import streamlit\n", True),
    ],
)
def test_import_rule(path: str, source: str, allowed: bool) -> None:
    assert RUFF, "ruff is part of requirements-dev.txt"
    result = subprocess.run(
        [RUFF, "check", "--no-cache", "--select", "TID251", "--stdin-filename", path, "-"],
        input=source, capture_output=True, text=True, cwd=REPO_ROOT, check=False,
    )
    assert (result.returncode == 0) == allowed, result.stdout + result.stderr
