"""Explore: the map of the area, draw your local, see what is inside it."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from layers import areas, categories, geojson, query
from layers.areas import AreaGeometry
from layers.errors import BadInputError
from mapping import build, drawing
from pages import common

MAP_HEIGHT = 560
MAX_TABLE_ROWS = 500
RETURNED = ["all_drawings", "last_active_drawing"]


def _map_key() -> str:
    return f"explore-map-{st.session_state.setdefault('map_version', 0)}"


def _clear_area() -> None:
    st.session_state.pop("chosen_area", None)
    st.session_state.pop(_map_key(), None)
    st.session_state["map_version"] = st.session_state.get("map_version", 0) + 1


def _current_area() -> tuple[AreaGeometry | None, str | None]:
    """The area from the map drawing (if any), else from the no-map chooser. Errors as text."""
    try:
        drawn = drawing.area_from_map_output(st.session_state.get(_map_key()))
    except BadInputError as exc:
        return None, str(exc)
    if drawn is not None:
        return drawn, None
    return st.session_state.get("chosen_area"), None


def _display_table(summary: query.AreaSummary) -> pd.DataFrame:
    labels = common.category_labels()
    items = summary.items
    names = items["name"].where(items["name"].notna() & (items["name"].astype(str) != ""), None)
    item_names = {c.id: c.item for c in categories.load_categories()}
    unnamed = "Unnamed " + items["category"].map(item_names)
    share = items["share_inside"].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    return pd.DataFrame(
        {
            "Name": names.fillna(unnamed).astype(str),
            "Category": items["category"].map(labels),
            "Distance from centre": items["distance_m"].map(lambda m: f"{m:,.0f} m"),
            "Share inside": share,
            "Address": items["address"].fillna("").astype(str),
            "Source": items["source"].map({"osm": "OpenStreetMap", "community": "Community"}),
        }
    )


def _chart(counts: pd.DataFrame) -> alt.Chart:
    cats = {c.id: c for c in categories.load_categories()}
    data = counts.assign(colour=counts["category"].map(lambda c: cats[c].colour))
    return (
        alt.Chart(data, title="What is inside, by category")
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="Number of places", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("label:N", title=None, sort=list(data["label"]),
                    axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            color=alt.Color("colour:N", scale=None, legend=None),
            tooltip=[alt.Tooltip("label:N", title="Category"), alt.Tooltip("count:Q", title="Places")],
        )
        .properties(height=alt.Step(24))
    )


def _format_area(m2: float) -> str:
    if m2 >= 1_000_000:
        return f"{m2 / 1_000_000:,.2f} km²"
    return f"{m2 / 10_000:,.1f} hectares"


def _show_results(summary: query.AreaSummary, lay: common.Layers) -> None:
    counts = summary.counts()
    st.subheader("What is inside your local")
    c1, c2, c3 = st.columns(3)
    c1.metric("Places inside", len(summary.items))
    c2.metric("Size of your local", _format_area(summary.area_m2))
    c3.metric("Categories with nothing inside", int((counts["count"] == 0).sum()))
    left, right = st.columns([3, 2])
    with right:
        st.altair_chart(_chart(counts), use_container_width=True)
        st.caption("Counts per category: " + "; ".join(f"{r.label}: {r.count}" for r in counts.itertuples()))
        missing = counts[counts["count"] == 0]["label"].tolist()
        if missing:
            st.markdown("**Not found in your local:** " + ", ".join(missing))
    with left:
        table = _display_table(summary)
        if table.empty:
            st.info("Nothing on the map falls inside this area. Try drawing a larger one.")
        else:
            shown = table.head(MAX_TABLE_ROWS)
            st.table(shown)
            if len(table) > len(shown):
                st.caption(f"Showing the nearest {len(shown)} of {len(table)}; download the list for all of them.")
        found = lay.assets[lay.assets["id"].isin(summary.items["id"])]
        st.download_button(
            "Download this list (GeoJSON)",
            data=geojson.dumps(geojson.feature_collection(found)),
            file_name="my-local.geojson",
            mime="application/geo+json",
        )


def _no_map_chooser(lay: common.Layers) -> None:
    with st.expander("No map? Choose your local from a list instead"):
        named = lay.assets[lay.assets["name"].notna()].sort_values("name")
        options = named["id"].tolist()
        labels = named["name"].astype(str) + " (" + named["category"].map(common.category_labels()) + ")"
        names = dict(zip(named["id"], labels, strict=True))
        with st.form("choose-local"):
            place = st.selectbox("A place at the middle of your local", options,
                                 format_func=lambda key: names.get(key, key))
            radius = st.number_input("How far around it, in metres", min_value=50, max_value=5000, value=400, step=50)
            if st.form_submit_button("Show what is within this distance"):
                row = named[named["id"] == place].iloc[0]
                point = row.geometry.representative_point()
                st.session_state["chosen_area"] = areas.circle(point.x, point.y, float(radius))
                st.session_state.pop(_map_key(), None)
                st.session_state["map_version"] = st.session_state.get("map_version", 0) + 1
                st.rerun()


def render() -> None:
    common.check_front_end_assets()
    lay = common.layers()
    st.title("Explore your patch")
    st.markdown(
        "Parks, places of worship, community services and groups near you. "
        "**Draw your local** with the shape tools at the top left of the map "
        "(a polygon, a rectangle or a circle) to see what is inside it."
    )
    area, problem = _current_area()
    summary = query.summarise(lay.index, area) if area is not None else None
    highlight = build.highlight_group(summary.items, lay.assets) if summary is not None else None
    fmap = build.build_map(lay.map_data)
    st_folium(
        fmap,
        key=_map_key(),
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=RETURNED,
        feature_group_to_add=highlight,
    )
    st.caption(f"Map data: {lay.extract.meta['name']} — © OpenStreetMap contributors (ODbL).")
    if problem:
        st.error(problem)
    _no_map_chooser(lay)
    if summary is None:
        st.info("No local yet: draw one on the map, or choose one from the list above.")
        return
    st.button("Clear my local and start again", on_click=_clear_area)
    _show_results(summary, lay)


render()
