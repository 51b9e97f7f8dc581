"""Long work shows progress: a bar on a terminal (nothing extra when piped) and in the app."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from layers.analysis import consensus
from layers.io import export
from layers.osm import sources
from layers.settings import REPO_ROOT
from tests import browser


def _run_cli(args: list[str], data_dir: Path, *, terminal: bool) -> tuple[int, str, str]:
    env = {**os.environ, "OURPATCH_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "layers", *args]
    if not terminal:
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    out = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=600)
    os.close(leader)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


def test_cli_first_load_draws_a_bar_on_a_terminal_and_nothing_extra_when_piped(tmp_path: Path) -> None:
    code, out, err = _run_cli(["categories"], tmp_path / "terminal", terminal=True)
    assert code == 0, err
    assert "parks" in out
    steps = re.findall(r"(Reading [a-z ,]+)… (\d) of 6", err)
    assert [s for s, _ in dict(steps).items()][:2] == ["Reading places and services", "Reading streets"], err[-500:]
    assert "Building the map layers… 6 of 6" in err

    code, out, err = _run_cli(["categories"], tmp_path / "piped", terminal=False)
    assert code == 0
    assert "parks" in out
    assert err == ""  # piped: no bar, no escape codes


def test_layers_report_each_step_to_a_callback(fresh_data_dir: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    extract = sources.from_pbf(sources.embedded_default_path(), progress=lambda *a: seen.append(a))
    assert len(extract.assets) > 0
    assert [step for _, step, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert {total for _, _, total in seen} == {6}
    seen.clear()
    export.export_to(fresh_data_dir / "out.geojson", "geojson", layer_ids=["parks"], progress=lambda *a: seen.append(a))
    assert [step for _, step, _ in seen] == [1, 2]
    assert seen[-1][0].startswith("Writing ") and "places" in seen[-1][0]
    seen.clear()
    consensus.consensus_cells(progress=lambda *a: seen.append(a))  # nothing saved: nothing to report
    assert seen == []


@pytest.mark.browser
def test_app_first_load_shows_what_it_is_doing(playwright: Any, tmp_path: Path) -> None:
    with browser.running_app(tmp_path) as url:  # an empty data folder: a cold first load
        chromium = browser.launch(playwright)
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.get_by_text(re.compile(r"Reading [a-z ,]+… \d of 6")).first.wait_for(timeout=60_000)
        browser.wait_for_map(page, timeout_ms=120_000)
        page.wait_for_timeout(500)
        assert page.get_by_text(re.compile(r"… \d of 6")).count() == 0  # gone once the map is ready
        chromium.close()
