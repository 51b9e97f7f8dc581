"""For planners: download the layers for a GIS — by category, in an area, in the CRS needed."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import folium
import geopandas as gpd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from layers import categories
from layers.analysis import access, consensus, gaps
from layers.areas import AreaGeometry
from layers.errors import BadInputError, OurPatchError
from layers.io import export, oruk, projection
from mapping import build, drawing
from views import common

FORMAT_NAMES = {
    "gpkg": "GeoPackage (a table per category and geometry type)",
    "shp": "Shapefile (zipped)",
    "csv": "CSV (zipped, a file per geometry type)",
    "geojson": "GeoJSON (always WGS84)",
    "kml": "KML (always WGS84)",
}
SUFFIX = {"gpkg": ".gpkg", "shp": ".zip", "csv": ".zip", "geojson": ".geojson", "kml": ".kml"}


def _crs_choices(lay: common.Layers) -> dict[str, str]:
    """The offered CRSs, the one that fits the loaded map first (EPSG:3067 for Helsinki)."""
    fits = projection.suggest_crs_for_bounds(lay.extract.bounds)
    offered = dict(projection.OFFERED)
    label = offered.pop(fits, f"{fits} (UTM zone of the map)")
    return {fits: f"{label} — fits this map", **offered}


def _area(lay: common.Layers) -> AreaGeometry | None:
    st.markdown("**Area** — draw it on the map, or leave it empty for the whole map.")
    fmap = build.build_map(lay.map_data, draw=True)
    out = st_folium(
        fmap, key="planner-map", height=420, use_container_width=True, returned_objects=["all_drawings", "last_active_drawing"]
    )
    try:
        return drawing.area_from_map_output(out)
    except BadInputError as exc:
        st.error(common.md(exc))
        return None


def render() -> None:
    st.title("Download layers for your GIS")
    user = common.require_role(
        ("planner", "moderator", "admin"),
        "Council planners sign in to download layers (residents can download their own local's list on the Explore page).",
    )
    if user is None:
        return
    lay = common.layers()
    cats = categories.load_categories()
    chosen = st.multiselect(
        "Layers",
        [c.id for c in cats],
        default=[c.id for c in cats],
        format_func=lambda c: common.category_labels()[c],
        key="export_layers",
    )
    c1, c2 = st.columns(2)
    fmt = c1.selectbox("Format", list(FORMAT_NAMES), format_func=lambda f: FORMAT_NAMES[f], key="export_format")
    choices = _crs_choices(lay)
    crs = c2.selectbox("Coordinate system", list(choices), format_func=lambda c: choices[c], key="export_crs")
    pending = st.checkbox("Include community assets not yet checked (flagged as pending)", key="export_pending")
    anyway = st.checkbox(
        "Transform data that lie outside the coordinate system's area of use anyway (not advised: the file will say so)",
        key="export_outside",
    )
    area = _area(lay)
    if fmt in ("geojson", "kml") and crs != "EPSG:4326":
        st.caption(f"{fmt.upper()} is always WGS84; the file will be in EPSG:4326.")
        crs = "EPSG:4326"
    if not chosen:
        st.info("Choose at least one layer.")
        return
    if st.button("Prepare the download", key="export_go"):
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / f"our-patch{SUFFIX[fmt]}"
                notes: list[str] = []
                with common.progress_bar("Preparing the download") as progress:
                    files = export.export_to(
                        out,
                        fmt,
                        layer_ids=chosen,
                        area=area,
                        crs=crs,
                        include_pending=pending,
                        outside_area_of_use=anyway,
                        notes=notes,
                        progress=progress,
                        user=user,
                    )
                for note in notes:
                    st.warning(common.md(note))
                st.session_state["export_file"] = (out.name, out.read_bytes())
                extra = [f for f in files if f != out]
                st.session_state["export_licence"] = extra[0].read_text() if extra else None
                st.session_state["export_outside_used"] = anyway and crs != "EPSG:4326"
        except OurPatchError as exc:
            st.error(common.md(exc))
            st.session_state.pop("export_file", None)
    ready = st.session_state.get("export_file")
    if ready:
        st.download_button(f"Download {ready[0]}", data=ready[1], file_name=ready[0], key="export_download")
        licence_text = st.session_state.get("export_licence") or ""
        if "WARNING" in licence_text:
            st.warning(
                "Some of these data lie outside the area this coordinate system is meant for; the file "
                "and its LICENSE.txt say so. Positions there may be metres off."
            )
        if st.session_state.get("export_licence"):
            st.download_button(
                "Download the licence (LICENSE.txt)",
                data=st.session_state["export_licence"],
                file_name="LICENSE.txt",
                key="export_licence_download",
            )
        st.caption(
            f"OpenStreetMap data: © OpenStreetMap contributors, ODbL. Community data: {common.md(export.community_licence())}."
        )
    _oruk_download()
    _consensus(lay, crs, anyway)
    _coverage_gaps(lay, crs, anyway)


def _layer_download(frame: gpd.GeoDataFrame, name: str, key: str, licence: str, crs: str, anyway: bool) -> None:
    """A derived layer as a GeoPackage in the coordinate system chosen above."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{name}.gpkg"
            export.write_layer(frame, "gpkg", out, layer=name, licence=licence, crs=crs, outside_area_of_use=anyway)
            st.download_button(f"Download {name}.gpkg ({crs})", data=out.read_bytes(), file_name=f"{name}.gpkg", key=key)
    except OurPatchError as exc:
        st.error(common.md(exc))


def _consensus(lay: common.Layers, crs: str, anyway: bool) -> None:
    st.subheader("What residents' locals add up to")
    with common.progress_bar("Adding up residents' locals") as progress:
        cells = consensus.consensus_cells(progress=progress)
    st.markdown(
        f"How many residents' saved locals cover each hexagon (about 150 m across). Hexagons covered by "
        f"fewer than {consensus.MIN_CONTRIBUTORS} residents are left out, so nobody's own local can be "
        f"recovered. {len(cells)} hexagons so far."
    )
    if len(cells) == 0:
        return
    top = max(int(cells["residents"].max()), consensus.MIN_CONTRIBUTORS)
    fmap = build.build_map(lay.map_data, draw=False)
    folium.GeoJson(
        cells.__geo_interface__,
        name="Residents' locals",
        style_function=lambda f: {
            "color": "#6f2c91",
            "weight": 0.5,
            "fillColor": "#6f2c91",
            "fillOpacity": 0.15 + 0.6 * f["properties"]["residents"] / top,
        },
    ).add_to(fmap)
    st_folium(fmap, key="consensus-map", height=420, use_container_width=True, returned_objects=[])
    st.caption(f"Darker hexagons: more residents count them as local (most: {top}).")
    _layer_download(
        cells,
        "residents-locals",
        "consensus_download",
        "Aggregated from residents' saved locals on Our Patch; hexagons with fewer than 5 left out.\n",
        crs,
        anyway,
    )


def _coverage_gaps(lay: common.Layers, crs: str, anyway: bool) -> None:
    st.subheader("Coverage gaps")
    st.markdown("The part of the map that is further than a walk from any place of a category.")
    cats = [c for c in categories.load_categories()]
    c1, c2, c3 = st.columns(3)
    category = c1.selectbox(
        "Category", [c.id for c in cats], format_func=lambda c: common.category_labels()[c], key="gap_category"
    )
    minutes = c2.slider("Minutes", 5, 30, 10, key="gap_minutes")
    modes = access.load_modes()
    mode = c3.selectbox("Travelling by", list(modes), format_func=lambda m: modes[m].label, key="gap_mode")
    try:
        network = common.network_for(mode)
    except OurPatchError as exc:
        st.error(common.md(exc))
        return
    area = shapely.box(*lay.extract.bounds)
    with common.progress_bar("Finding the coverage gap") as progress:
        result = gaps.coverage_gap(network, lay.assets, category, minutes, area, progress=progress)
    item = categories.by_id()[category].item
    st.metric(f"Share of the map more than {minutes} minutes from any {item}", f"{result.share:.0%}")
    fmap = build.build_map(lay.map_data, draw=False)
    if not result.gap.is_empty:
        folium.GeoJson(
            shapely.geometry.mapping(result.gap),
            name="Gap",
            style_function=lambda _f: {"color": "#d4351c", "weight": 1, "fillColor": "#d4351c", "fillOpacity": 0.3},
        ).add_to(fmap)
    st_folium(fmap, key="gap-map", height=420, use_container_width=True, returned_objects=[])
    st.caption("Shaded red: beyond the walk.")
    frame = gpd.GeoDataFrame(
        {"category": [category], "minutes": [minutes], "mode": [mode], "share": [round(result.share, 4)]},
        geometry=[result.gap],
        crs="EPSG:4326",
    )
    _layer_download(frame, "coverage-gap", "gap_download", export.licence_text(), crs, anyway)


def _oruk_download() -> None:
    st.subheader("The community directory as Open Referral UK")
    st.markdown(
        "Every published community asset as Open Referral UK (HSDS 3.0 UK profile): organisations, "
        "services, locations and addresses, contacts, schedules, service areas and our categories as "
        "taxonomy terms."
    )
    st.markdown(
        "**For a directory:** this app serves the ORUK API, read-only, at `/api/oruk/` (for example "
        "`/api/oruk/services?page=1&per_page=50`). Give a directory that base address."
    )
    if st.button("Prepare the Open Referral UK data package", key="oruk_go"):
        with tempfile.TemporaryDirectory() as tmp:
            files = oruk.write_package(Path(tmp) / "oruk")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for f in files:
                    archive.write(f, f.name)
            st.session_state["oruk_zip"] = buffer.getvalue()
    if st.session_state.get("oruk_zip"):
        st.download_button(
            "Download open-referral-uk.zip",
            data=st.session_state["oruk_zip"],
            file_name="open-referral-uk.zip",
            key="oruk_download",
        )


render()
