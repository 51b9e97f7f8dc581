"""Compare two saved locals side by side: counts, what one has that the other lacks, overlap."""

from __future__ import annotations

import altair as alt
import folium
import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from layers.analysis import gaps, local_spec
from layers.errors import BadInputError
from mapping import build
from views import common


def _token(text: str) -> str:
    text = text.strip()
    return text.split("local=", 1)[1].split("&", 1)[0] if "local=" in text else text


def _pick(label: str, key: str, default: str) -> local_spec.SavedLocal | None:
    raw = st.text_input(label, value=default, key=key, placeholder="Paste the link you got when you saved it")
    if not raw.strip():
        return None
    saved = local_spec.saved(_token(raw))
    if saved is None:
        st.error(f"{label}: that link does not open a saved local.")
    return saved


def _names(items: pd.DataFrame) -> pd.DataFrame:
    labels = common.category_labels()
    return pd.DataFrame({"Name": items["name"].fillna("Unnamed").astype(str), "Category": items["category"].map(labels)})


def render() -> None:
    lay = common.layers()
    st.title("Compare two locals")
    st.markdown(
        "Set two saved locals side by side — yours and a neighbour's, or walking and "
        "wheelchair-friendly — to see what each has that the other lacks."
    )
    mine = st.session_state.get("my_locals", [])
    defaults = [f"?local={m['token']}" for m in mine[-2:]]
    defaults = ([""] * (2 - len(defaults))) + defaults
    c1, c2 = st.columns(2)
    with c1:
        a = _pick("First local (A)", "compare_a", defaults[0])
    with c2:
        b = _pick("Second local (B)", "compare_b", defaults[1])
    if a is None or b is None:
        st.info("Save a local on the Explore page, then paste its link here (two are needed).")
        return
    try:
        area_a, area_b = local_spec.saved_area(a), local_spec.saved_area(b)
    except BadInputError as exc:  # a damaged saved local: say so, never a traceback
        st.error(common.md(exc))
        return
    result = gaps.compare(lay.index, area_a, area_b)
    st.subheader(f"A: {common.md(a.name)} — B: {common.md(b.name)}")
    m1, m2, m3 = st.columns(3)
    m1.metric("Places in both", result.shared)
    m2.metric("Overlap of the two areas", f"{result.overlap_m2 / 10_000:,.1f} ha")
    smaller = min(result.area_a_m2, result.area_b_m2)
    share = result.overlap_m2 / smaller if smaller else 0.0
    m3.metric("Overlap as a share of the smaller", f"{share:.0%}")
    left, right = st.columns([2, 3])
    with left:
        st.table(common.safe_table(result.counts.rename(columns={"A": f"A: {a.name}", "B": f"B: {b.name}"})))
    with right:
        long = result.counts.melt(id_vars="Category", var_name="Local", value_name="Places")
        chart = (
            alt.Chart(long, title="Places per category")
            .mark_bar()
            .encode(
                x=alt.X("Places:Q"),
                y=alt.Y("Category:N", sort=list(result.counts["Category"]), title=None),
                yOffset="Local:N",
                color=alt.Color("Local:N", scale=alt.Scale(range=["#1d70b8", "#d4351c"])),
            )
        )
        st.altair_chart(chart, use_container_width=True)
    for column, label, items in zip(st.columns(2), ("A", "B"), (result.only_a, result.only_b), strict=True):
        with column:
            st.markdown(f"**Only in {label} ({len(items)})**")
            if len(items):
                st.table(common.safe_table(_names(items).reset_index(drop=True)))
            else:
                st.markdown("Nothing.")
    fmap = build.build_map(lay.map_data, draw=False)
    for geom, colour, name in ((area_a, "#1d70b8", "A"), (area_b, "#d4351c", "B")):
        folium.GeoJson(
            shapely.geometry.mapping(geom),
            name=name,
            interactive=False,
            style_function=lambda _f, c=colour: {"color": c, "weight": 3, "fillOpacity": 0.1},
        ).add_to(fmap)
    st_folium(fmap, key="compare-map", height=480, use_container_width=True, returned_objects=[])
    st.caption("A is outlined in blue, B in red.")


render()
