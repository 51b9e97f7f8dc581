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
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert (result.returncode == 0) == allowed, result.stdout + result.stderr


DRIVERS = {"sqlite3", "sqlite_utils", "psycopg"}
STORE_MODULES = {"layers.store", "layers.store.sqlite", "layers.store.postgis"}


def _imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_only_the_store_modules_know_sql_and_pages_never_call_the_store() -> None:
    wrong = []
    for path in sorted(REPO_ROOT.glob("*.py")) + sorted(REPO_ROOT.glob("[lmrvb]*/**/*.py")):
        rel = path.relative_to(REPO_ROOT).as_posix()
        if rel.startswith("layers/store"):
            continue
        imported = _imports(path)
        drivers = {name for name in imported if name.split(".")[0] in DRIVERS}
        if drivers:
            wrong.append(f"{rel} imports {sorted(drivers)}")
        if rel.startswith(("views/", "routes/", "mapping/")) or rel == "app.py":
            stores = imported & STORE_MODULES
            if stores:
                wrong.append(f"{rel} calls the store directly ({sorted(stores)}); use a layers/ domain function")
    assert wrong == []
