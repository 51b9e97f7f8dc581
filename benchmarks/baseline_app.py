"""The benchmark's baseline page: streamlit-folium as it comes. The same map (every layer's data
inside the map script), the same list, and the whole script rerun on every drawing, with the
map re-sent each time. `python -m benchmarks` serves it beside the app and times both."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from layers import catalogue
from layers.analysis import query
from layers.osm import sources
from mapping import build, drawing

st.set_page_config(page_title="Baseline", layout="wide")


@st.cache_resource
def _layers() -> tuple[query.AssetIndex, build.MapData]:
    extract = sources.current()
    assets = catalogue.all_assets(extract)
    return query.AssetIndex(assets), build.prepare(assets, extract.basemap, extract.bounds)


index, data = _layers()
area = drawing.area_from_map_output(st.session_state.get("baseline-map"))
summary = query.summarise(index, area) if area is not None else None
highlight = build.highlight_group(summary.items, index.assets, area=area) if summary is not None else None
st.title("Baseline: streamlit-folium as it comes")
st_folium(
    build.build_map(data),
    key="baseline-map",
    height=560,
    use_container_width=True,
    returned_objects=["all_drawings", "last_active_drawing"],
    feature_group_to_add=highlight,
)
if summary is not None:
    st.table(
        pd.DataFrame(
            {
                "Name": summary.items["name"].fillna("").astype(str).head(500),
                "Distance": summary.items["distance_m"].head(500),
            }
        )
    )
