"""The map's data served once as a script: the map's own script stays small and never carries it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.synthetic import synthetic_assets
from layers.osm import sources
from mapping import build


def test_published_data_is_named_by_content_and_not_in_the_map(helsinki: sources.Extract, tmp_path: Path) -> None:
    data = build.prepare(helsinki.assets, helsinki.basemap, helsinki.bounds)
    url = build.publish(data, folder=tmp_path)
    assert url == build.publish(data, folder=tmp_path)  # the same data, the same file
    script = (tmp_path / url.rsplit("/", 1)[1]).read_text()
    assert "Helsingin tuomiokirkko" in script
    served = build.build_map(data, served_url=url).get_root().render()
    inline = build.build_map(data).get_root().render()
    assert "Helsingin tuomiokirkko" in inline and "Helsingin tuomiokirkko" not in served
    assert url in build.script_urls(build.build_map(data, served_url=url))
    assert len(served) < len(inline) / 2
    # the data script defines exactly what the map reads: window.ourPatchData[<digest>]
    digest = re.search(r'window\.ourPatchData\[("[0-9a-f]+")\]', served)
    assert digest and f"[{digest.group(1)}]" in script
    body = script.split(f"[{digest.group(1)}]=", 1)[1].split(";\n", 1)[0]
    parsed = json.loads(re.sub(r"([{,])([brs]):", r'\1"\2":', body))
    assert len(parsed["r"]) == len(data.categories)


def test_old_data_scripts_are_removed(tmp_path: Path) -> None:
    for seed in range(build.SERVED_KEEP + 3):
        assets = synthetic_assets(20, seed=seed)
        build.publish(build.prepare(assets, assets.iloc[0:0], tuple(assets.total_bounds)), folder=tmp_path)
    assert len(list(tmp_path.glob("map-*.js"))) == build.SERVED_KEEP


def test_the_map_asks_for_one_script_its_libraries_and_its_data(helsinki: sources.Extract, tmp_path: Path) -> None:
    """streamlit-folium loads a map's scripts one after another: Leaflet, the plugins and the map's
    data come as one file (the libraries first: the data needs them), one round trip, not six."""
    import re

    from mapping import vendor

    data = build.prepare(helsinki.assets, helsinki.basemap, helsinki.bounds)
    url = build.publish(data, folder=tmp_path)
    page = build.build_map(data, served_url=url, instant_drawings=True).get_root().render()
    assert re.findall(r'<script src="([^"]+)"', page) == [url]
    served = (tmp_path / url.rsplit("/", 1)[1]).read_text()
    for needed in ("Supercluster", "L.Draw.Polygon", "window.ourPatchData"):
        assert needed in served, needed
    assert served.index("window.L") < served.index("L.Draw.Polygon") < served.index("window.ourPatchData")
    # a map with its data inside (a moderator's, a planner's) loads the libraries' file alone
    inline = build.build_map(data, draw=False).get_root().render()
    assert re.findall(r'<script src="([^"]+)"', inline) == [vendor.BUNDLE_JS[1]]


def test_the_libraries_file_is_written_again_when_its_parts_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install that drops or adds a library (jQuery left the bundle) gets a new bundle, even
    though every remaining part is older than the bundle written before."""
    from mapping import vendor

    for name, text in (("a.js", "var a = 1;"), ("b.js", "var b = 2;")):
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(vendor, "BUNDLE_PARTS", ("a.js", "b.js"))
    assert "var b = 2;" in vendor.ensure_bundle(tmp_path).read_text()
    monkeypatch.setattr(vendor, "BUNDLE_PARTS", ("a.js",))
    again = vendor.ensure_bundle(tmp_path).read_text()
    assert "var a = 1;" in again and "var b = 2;" not in again
    assert vendor.ensure_bundle(tmp_path).read_text() == again  # unchanged: left as it is
