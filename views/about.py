"""About: where the data comes from, its licence, and how to load another area."""

from __future__ import annotations

import streamlit as st

from layers import categories
from views import common


def render() -> None:
    lay = common.layers()
    meta = lay.extract.meta
    st.title("About the data")
    st.markdown(
        "Our Patch shows what communities already have around them: parks and green spaces, "
        "places of worship, community services, and the groups that look after them."
    )
    st.subheader("Where the map comes from")
    st.markdown(
        f"- **Area:** {meta['name']}\n"
        f"- **Loaded:** {meta['loaded_at']}\n"
        f"- **Places:** {len(lay.assets)}\n"
        "- **Licence:** map data © OpenStreetMap contributors, available under the "
        "[Open Database Licence](https://opendatacommons.org/licenses/odbl/)."
    )
    st.subheader("What each symbol means")
    counts = lay.assets["category"].value_counts()
    st.table(
        {
            "Symbol": [c.symbol for c in categories.load_categories()],
            "Category": [c.label for c in categories.load_categories()],
            "Places": [int(counts.get(c.id, 0)) for c in categories.load_categories()],
        }
    )
    st.subheader("Another area")
    st.markdown(
        "An administrator loads another area from the command line:\n\n"
        '```\npython -m layers load --pbf my-town.osm.pbf\npython -m layers load --place "York, UK"\n```'
    )


render()
