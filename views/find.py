"""Find: search places and services by name and category, and addresses, streets and place names."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from layers import categories
from layers.analysis import search
from views import chrome, common

MAX_RESULTS = 50


def render() -> None:
    lay = common.layers()
    st.title("Find a place or service")
    st.markdown(
        "Search everything on the map, from OpenStreetMap and from community groups, "
        "and the area's addresses, streets and place names. Nothing leaves this computer."
    )
    cats = categories.load_categories()
    labels = {c.id: c.label for c in cats}
    text = st.text_input("Name, address or place", max_chars=search.MAX_QUERY, key="find_text")
    chosen = st.multiselect("Only these categories", [c.id for c in cats], format_func=lambda c: labels[c], key="find_categories")
    if not text and not chosen:
        st.info("Type a name (for example “kirjasto”) or choose a category.")
        return
    found = search.search_assets(lay.assets, text, chosen or None, limit=MAX_RESULTS)
    st.subheader(f"Places and services ({len(found)}{'+' if len(found) == MAX_RESULTS else ''})")
    if len(found):
        chrome.card_table(
            pd.DataFrame(
                {
                    "Name": found["name"].fillna("Unnamed").astype(str),
                    "Category": found["category"].map(labels),
                    "Address": found["address"].fillna("").astype(str),
                    "Source": found["source"].map({"osm": "OpenStreetMap", "community": "Community"}),
                }
            ).reset_index(drop=True),
            key="op-find-table",
        )
    else:
        st.markdown("No place or service matches.")
    if not text:
        return
    places = search.search_places(lay.extract.gazetteer, text)
    st.subheader(f"Addresses, streets and places ({len(places)})")
    if len(places) == 0:
        st.markdown("No address, street or place matches.")
        return
    st.table(common.safe_table(pd.DataFrame({"Name": places["label"], "Kind": places["kind"]}).reset_index(drop=True)))
    choices = [f"{label} ({kind})" for label, kind in zip(places["label"], places["kind"], strict=True)]
    pick = st.selectbox("Walk from one of these", list(range(len(choices))), format_func=lambda i: choices[i])
    if st.button("Show what I can reach from here"):
        row = places.iloc[int(pick)]
        st.session_state["walk_start"] = (float(row["lon"]), float(row["lat"]))
        st.session_state["start_label"] = str(row["label"])
        st.session_state["fit_view"] = True
        st.switch_page("views/explore.py")


render()
