"""Leaflet, its plugins and Supercluster, served by the app itself from static/vendor (no CDN at run time).

The files come from the npm registry at set-up (`make assets`, pinned in package.json) and are
never committed. Every folium element we put on a map declares its scripts here.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, cast

import folium
import folium.plugins
from branca.element import Figure

from layers.settings import REPO_ROOT
from mapping.render_once import RenderOnce, Verbatim

STATIC_DIR = REPO_ROOT / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
# Streamlit serves ./static at /app/static when server.enableStaticServing is on.
VENDOR_URL = "/app/static/vendor"

LEAFLET_JS = ("leaflet", f"{VENDOR_URL}/leaflet/leaflet.js")
LEAFLET_CSS = ("leaflet_css", f"{VENDOR_URL}/leaflet/leaflet.css")
JQUERY_JS = ("jquery", f"{VENDOR_URL}/jquery/jquery.min.js")  # folium's Popup: the naive benchmark only
DRAW_JS = ("leaflet_draw_js", f"{VENDOR_URL}/leaflet-draw/leaflet.draw.js")
DRAW_CSS = ("leaflet_draw_css", f"{VENDOR_URL}/leaflet-draw/leaflet.draw.css")
# The map's scripts in one file, in the order they need each other: streamlit-folium loads a
# map's scripts one after another (each waits for the one before), so four files cost four round
# trips before the map can start. Written from the installed files (see `ensure_bundle`).
BUNDLE = "ourpatch-map.js"
BUNDLE_JS = ("ourpatch_map_js", f"{VENDOR_URL}/{BUNDLE}")
BUNDLE_PARTS = (
    "leaflet/leaflet.js",
    "supercluster/supercluster.min.js",
    "leaflet-draw/leaflet.draw.js",
)

# (npm package, file inside it) -> path under static/vendor
VENDOR_FILES: dict[tuple[str, str], str] = {
    ("leaflet", "dist/leaflet.js"): "leaflet/leaflet.js",
    ("leaflet", "dist/leaflet.css"): "leaflet/leaflet.css",
    ("leaflet", "dist/images"): "leaflet/images",
    ("jquery", "dist/jquery.min.js"): "jquery/jquery.min.js",
    ("leaflet-draw", "dist/leaflet.draw.js"): "leaflet-draw/leaflet.draw.js",
    ("leaflet-draw", "dist/leaflet.draw.css"): "leaflet-draw/leaflet.draw.css",
    ("leaflet-draw", "dist/images"): "leaflet-draw/images",
    ("supercluster", "dist/supercluster.min.js"): "supercluster/supercluster.min.js",
    # Not loaded by the app: the accessibility tests inject it into every page and the map frame.
    ("axe-core", "axe.min.js"): "axe-core/axe.min.js",
}


VIEWPORT_META = '<meta name="viewport" content="width=device-width, initial-scale=1" />'


class OfflineMap(folium.Map, RenderOnce):
    """folium.Map that loads only Leaflet and the plugins our elements use, from the app (no jQuery:
    only folium's own Popup needs it, and our popups are built in the browser),
    and lets people zoom the page: folium's header says `maximum-scale=1.0, user-scalable=no`,
    which fails WCAG 1.4.4 (axe's meta-viewport)."""

    default_js = [BUNDLE_JS]
    default_css = [LEAFLET_CSS]

    def render(self, **kwargs: Any) -> Any:
        out = super().render(**kwargs)  # type: ignore[no-untyped-call]  # folium's Map.render is unannotated
        header = cast(Figure, self.get_root()).header  # a map renders inside a Figure
        ours = header._children.get(self.get_name())
        if ours is not None and ours._template_str:
            html = re.sub(r"<meta name=\"viewport\"[^>]*>", VIEWPORT_META, ours._template_str)
            header.add_child(Verbatim(html), name=self.get_name())
        return out


class OfflineDraw(folium.plugins.Draw, RenderOnce):
    default_js = [BUNDLE_JS]
    default_css = [DRAW_CSS]


def missing_vendor_files(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    missing = [rel for rel in VENDOR_FILES.values() if not (vendor_dir / rel).exists()]
    if not missing:
        try:
            ensure_bundle(vendor_dir)
        except OSError as exc:  # a read-only install: the bundle must come with it (`make assets`)
            logging.getLogger(__name__).warning("Cannot write %s: %s", vendor_dir / BUNDLE, exc)
        if not (vendor_dir / BUNDLE).exists():
            missing.append(BUNDLE)
    return missing


def ensure_bundle(vendor_dir: Path = VENDOR_DIR) -> Path:
    """Write the one-file bundle of the map's scripts when it is missing or older than a part."""
    bundle = vendor_dir / BUNDLE
    parts = [vendor_dir / rel for rel in BUNDLE_PARTS]
    header = f"/* {BUNDLE}: {', '.join(BUNDLE_PARTS)} */\n"  # a changed list of parts writes it again
    if bundle.exists() and bundle.stat().st_mtime >= max(p.stat().st_mtime for p in parts):
        with bundle.open(encoding="utf-8") as written:
            if written.readline() == header:
                return bundle
    body = header + "\n;\n".join(
        f"/* {rel} */\n" + p.read_text(encoding="utf-8") for rel, p in zip(BUNDLE_PARTS, parts, strict=True)
    )
    staging = bundle.with_name(f".{BUNDLE}.{os.getpid()}.tmp")
    staging.write_text(body, encoding="utf-8")
    os.replace(staging, bundle)  # atomic: a browser never reads half a file
    return bundle


def install(node_modules: Path, vendor_dir: Path = VENDOR_DIR) -> None:
    """Copy the pinned npm files into static/vendor (run by `make assets`)."""
    import shutil

    for (package, inner), rel in VENDOR_FILES.items():
        src = node_modules / package / inner
        dst = vendor_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    ensure_bundle(vendor_dir)


if __name__ == "__main__":
    install(REPO_ROOT / "node_modules")
    print(f"Installed front-end assets into {VENDOR_DIR}")
