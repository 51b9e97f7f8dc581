"""Explore: the map of the area; draw your local or ask for a walk-time one; see what is inside,
what is missing, and keep or share it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import altair as alt
import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from layers import areas, categories
from layers.analysis import access, gaps, local_spec, query, search
from layers.errors import BadInputError
from layers.groups import accounts
from layers.io import geojson
from mapping import build
from views import chrome, common, local_state

log = logging.getLogger("ourpatch.explore")
MAP_HEIGHT = 560
MAX_TABLE_ROWS = 500
MAX_LIST_CHOICES = 300  # places offered at once by the list-instead chooser
MINUTE_CHOICES = (5, 30)


# ---------------------------------------------------------------- the controls


def _layer_choice() -> None:
    """Which categories the map shows. Built only while its section is open (the first page then
    needs no multiselect code before the map); the choice itself lives in "hidden", which the
    map key, saved locals and share links read. (The section's label stays the same: a label
    that changed with the choice would make it a new section, folded again after each change.)"""
    cats = categories.load_categories()
    labels = {c.id: c.label for c in cats}
    section = st.expander("Layers on the map: choose which to show", key="layers_open", on_change="rerun")
    if not section.open:
        return
    if "shown_categories" not in st.session_state:
        hidden = set(st.session_state.get("hidden", []))
        st.session_state["shown_categories"] = [c.id for c in cats if c.id not in hidden]
    with section:
        shown = st.multiselect(
            "Layers on the map", [c.id for c in cats], key="shown_categories", format_func=lambda cid: labels.get(cid, cid)
        )
        st.caption(f"{len(shown)} of {len(cats)} shown.")
    st.session_state["hidden"] = [c.id for c in cats if c.id not in shown]


WALK_CHOICES = ("start_query", "walk_minutes", "walk_mode")  # kept while their section is folded


def _walk_controls(lay: common.Layers) -> None:
    """The walk-time local's controls (the toggle's value says whether map clicks set the start).
    Built only while their section is open: folded, the page loads without their widgets' code
    (a quicker first map). What they hold is kept while folded; folding it stops map clicks
    choosing the start. A new start (from Find, a link, a click) opens it."""
    modes = access.load_modes()
    state = st.session_state
    start = state.get("walk_start")
    if start is not None and start != state.get("walk_opened_for"):
        state["walk_opened_for"] = start
        state["walk_open"] = True
    for key in WALK_CHOICES:  # Streamlit forgets a widget's value in a run that does not show it
        if key in state:
            state[key] = state[key]
    state.setdefault("walk_minutes", local_state.DEFAULT_MINUTES)
    section = st.expander("Walk-time local: what can you reach from home in a few minutes?", key="walk_open", on_change="rerun")
    if not section.open:
        state["pick_start"] = False
        return
    with section:
        c1, c2, c3 = st.columns([3, 2, 2])
        with c1:
            query_text = st.text_input(
                "Start from an address, street or place", placeholder="for example Unioninkatu 29", key="start_query"
            )
            matches = search.search_places(lay.extract.gazetteer, query_text) if query_text else None
            if matches is not None and len(matches) == 0:
                st.warning(f"No address, street or place on this map matches “{common.md(query_text[:80])}”.")
            elif matches is not None:
                labels = [f"{r.label} ({r.kind})" for r in matches.itertuples()]
                pick = st.selectbox("Matches", range(len(labels)), format_func=lambda i: labels[i], key="start_pick")
                if st.button("Start from here", key="start_here"):
                    st.session_state["fit_view"] = True
                    row = matches.iloc[int(pick)]
                    st.session_state["walk_start"] = (float(row["lon"]), float(row["lat"]))
                    st.session_state["start_label"] = str(row["label"])
            st.toggle("Or click the map to choose the start", key="pick_start")
        with c2:
            st.slider("Minutes", MINUTE_CHOICES[0], MINUTE_CHOICES[1], step=1, key="walk_minutes")
        with c3:
            st.radio("Travelling by", list(modes), format_func=lambda m: modes[m].label, key="walk_mode")
        if st.session_state.get("walk_start") is not None:
            st.caption(f"Starting from {common.md(st.session_state.get('start_label', 'the chosen point'))}.")


def _combine_control(spec: local_spec.LocalSpec) -> None:
    """How a drawing and a walk-time area make one local: shown right under the map, where the
    resident is looking when they draw, with a sentence whenever one of the two is left out."""
    drawn_just_now = st.session_state.pop("drawn_new", False)
    if spec.drawn is None or spec.walk is None:
        return
    if drawn_just_now:
        st.toast("You drew an area while a walk-time local is set: choose under the map how to combine them.")
    # the radio shows the choice in force ("Either" unless the resident chose), never its first option
    st.session_state.setdefault("combine", spec.combine)
    st.radio(
        "You have drawn an area and asked for a walk-time area. Your local is:",
        list(local_spec.COMBINE_CHOICES),
        format_func=lambda c: local_spec.COMBINE_CHOICES[c],
        key="combine",
        horizontal=False,
    )
    left_out = {"walk": "Your drawing is not part of your local", "drawn": "The walk-time area is not part of your local"}
    if spec.combine in left_out:
        st.warning(
            f"{left_out[spec.combine]}, because you chose “{local_spec.COMBINE_CHOICES[spec.combine]}”. "
            "Choose “Either” or “Both” above to use the two together."
        )


# ---------------------------------------------------------------- the results


def _display_table(summary: query.AreaSummary) -> pd.DataFrame:
    distance = "Distance from start" if summary.origin is not None else "Distance from centre"
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
            distance: items["distance_m"].map(lambda m: f"{m:,.0f} m"),
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
            y=alt.Y("label:N", title=None, sort=list(data["label"]), axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            color=alt.Color("colour:N", scale=None, legend=None),
            tooltip=[alt.Tooltip("label:N", title="Category"), alt.Tooltip("count:Q", title="Places")],
        )
        .properties(height=alt.Step(24))
    )


def _format_area(m2: float) -> str:
    if m2 >= 1_000_000:
        return f"{m2 / 1_000_000:,.2f} km²"
    return f"{m2 / 10_000:,.1f} hectares"


def _missing_table(missing: list[gaps.NearestOutside], mode: access.Mode | None) -> pd.DataFrame:
    how = mode.label.lower() if mode else "walking"
    rows = []
    for m in missing:
        if m.asset_id is None:
            rows.append({"Category": m.label, "Nearest outside": "None on this map", "Time": "", "Distance": ""})
            continue
        rows.append(
            {
                "Category": m.label,
                "Nearest outside": m.name or "Unnamed",
                "Time": f"{m.minutes:.0f} min {how}" if m.minutes is not None else "no route on the mapped streets",
                "Distance": f"{m.straight_m:,.0f} m in a straight line",
            }
        )
    return pd.DataFrame(rows)


def _show_results(
    summary: query.AreaSummary,
    find_missing: Callable[[], list[gaps.NearestOutside]],
    spec: local_spec.LocalSpec,
    lay: common.Layers,
) -> tuple[list[gaps.NearestOutside], Callable[[], None]]:
    """The list, then what is missing (worked out after the list is sent); returns what is
    missing, and what draws the chart and the download beside them, to call last, once
    everything the resident waits for is on its way to the browser."""
    counts = summary.counts()
    st.subheader("What is inside your local")
    c1, c2, c3 = st.columns(3)
    c1.metric("Places inside", len(summary.items))
    c2.metric("Size of your local", _format_area(summary.area_m2))
    c3.metric("Categories with nothing inside", int((counts["count"] == 0).sum()))
    table = _display_table(summary)
    if table.empty:
        st.info("Nothing on the map falls inside this area. Try a larger one.")
    else:
        shown = table.head(MAX_TABLE_ROWS)
        chrome.card_table(shown, key="op-results-table")
        if len(table) > len(shown):
            st.caption(f"Showing the nearest {len(shown)} of {len(table)}; download the list for all of them.")
    download = st.empty()
    chart = st.container()
    missing = find_missing()
    if missing:
        st.subheader("What is missing")
        mode = access.mode_by_id(spec.walk.mode) if spec.walk else None
        origin = "your start" if spec.walk else "the middle of your local"
        st.markdown(f"Nothing of these inside your local; the nearest one from {origin} (a dotted line on the map leads to it):")
        chrome.card_table(_missing_table(missing, mode), key="op-missing-table")

    def chart_and_download() -> None:
        with chart:
            st.altair_chart(_chart(counts), use_container_width=True)
            st.caption("Counts per category: " + "; ".join(f"{r.label}: {r.count}" for r in counts.itertuples()))
        found = lay.assets[lay.assets["id"].isin(summary.items["id"])]
        download.download_button(
            "Download this list (GeoJSON)",
            data=geojson.dumps(geojson.feature_collection(found)),
            file_name="my-local.geojson",
            mime="application/geo+json",
        )

    return missing, chart_and_download


def _save_and_share(spec: local_spec.LocalSpec, area: areas.AreaGeometry, user: accounts.User | None) -> None:
    st.subheader("Keep or share this local")
    with st.form("save-local", clear_on_submit=False):
        name = st.text_input("Name your local", max_chars=local_spec.MAX_NAME, placeholder="Home and the park")
        if st.form_submit_button("Save and get a private link"):
            try:
                token = local_spec.save(name, spec, area, owner=user.owner_key if user else None, source=common.client_source())
            except BadInputError as exc:
                st.error(common.md(exc))
            else:
                local_state.remember_saved(token, " ".join(name.split()))
                st.session_state["loaded_token"] = token
                st.query_params["local"] = token
    link_token = st.session_state.get("loaded_token")
    if link_token and local_spec.saved(link_token) is not None:
        host = st.context.headers.get("host") or "localhost:8501"
        st.success("Saved. Anyone with this link sees this local; it is not listed anywhere.")
        st.code(f"http://{host}/?local={link_token}", language=None)


def _my_locals(user: accounts.User | None) -> None:
    """A signed-in person's saved locals (residents without an account keep their links)."""
    if user is None:
        return
    mine = local_spec.owned_by(user.owner_key)
    if mine:
        st.markdown("**Your saved locals** (only you see this list):")
        st.markdown(
            "\n".join(f"- [{common.md(m.name)}](?local={m.token}) — saved {common.when(m.created_at[:10])}" for m in mine)
        )


# ---------------------------------------------------------------- the map


def _highlights(
    summary: query.AreaSummary | None,
    resolved: local_spec.ResolvedLocal | None,
    missing: list[gaps.NearestOutside],
    origin: tuple[float, float] | None,
    lay: common.Layers,
) -> folium.FeatureGroup | None:
    if summary is None or resolved is None:
        return None
    targets = [(m.lon, m.lat) for m in missing if m.lon is not None and m.lat is not None]
    return build.highlight_group(summary.items, lay.assets, area=resolved.area, origin=origin, targets=targets)


# ---------------------------------------------------------------- the page


def render() -> None:
    started = time.perf_counter()
    common.check_front_end_assets()
    lay = common.layers()
    shared = st.query_params.get("local")
    if shared and shared != st.session_state.get("loaded_token"):
        try:
            name = local_state.open_shared(shared)
            st.toast(f"Opened the saved local “{common.md(name)}”.")
        except BadInputError as exc:
            st.error(common.md(exc))
            st.session_state["loaded_token"] = shared  # do not try again on every rerun

    with st.container(key="op-title"):  # on a phone: the title, then the map, then the rest
        st.title("Explore your patch")
    st.markdown(
        "Parks, places of worship, community services and groups near you. **Draw your local** with "
        "the shape tools at the top left of the map (a polygon, a rectangle or a circle), or make it "
        "**without the map**: by how far you can walk from an address, or by a distance around a place."
    )
    local_state.take_map_output(bool(st.session_state.get("pick_start")))  # the controls show a clicked start
    _walk_controls(lay)
    _no_map_chooser(lay)  # before the map in Tab order (a local from the keyboard alone), out of its reruns
    with st.container(key="op-local"):  # on a phone: straight after the title (see chrome.STYLES)
        _map_and_local()
    # benchmarks/browser_bench.py reads this line for the server's share of the first load
    log.info("explore: page script %.0f ms", (time.perf_counter() - started) * 1000)


@st.fragment
def _map_and_local() -> None:
    """The map, the local and what is in it. A fragment: a drawing on the map reruns only this
    part of the page, not the controls above it."""
    started = time.perf_counter()
    lay = common.layers()
    pick_start = bool(st.session_state.get("pick_start"))
    if local_state.take_map_output(pick_start):
        st.rerun()  # a start clicked on the map: the whole page, so the controls above show it
    spec = local_state.current_spec()

    resolved = summary = None
    missing: list[gaps.NearestOutside] = []
    origin = None
    problem = None
    try:
        resolved = local_spec.resolve(spec, common.network_for)
    except BadInputError as exc:
        problem = str(exc)
    if resolved is not None:
        start = (spec.walk.lon, spec.walk.lat) if spec.walk and spec.combine != "drawn" else None
        summary = query.summarise(lay.index, resolved.area, origin=start)
        origin = (spec.walk.lon, spec.walk.lat) if spec.walk else summary.centre

    def find_missing() -> list[gaps.NearestOutside]:
        """The nearest of each category not inside: worked out once the list is on its way."""
        if summary is None or origin is None:
            return []
        try:
            network = common.network_for(spec.walk.mode if spec.walk else "walk")
        except BadInputError:  # an extract without streets: straight-line distances only
            network = None
        return gaps.missing_with_nearest(lay.index, summary, origin, network)

    _layer_choice()
    user = common.signed_in_user()  # once a rerun
    with st.container(key="op-map-and-results"):
        map_column, results_column = st.columns([3, 2], gap="medium")  # side by side on a wide screen
    # The results column is filled first: the list a resident waits for goes to the browser before
    # the map's element is rendered and sent (the map keeps its place on the page, left of it).
    with results_column:
        st.markdown(_announcement(summary), unsafe_allow_html=True)
        if problem:
            st.error(problem)
        if resolved is not None and resolved.isochrone is not None and resolved.isochrone.note:
            st.info(resolved.isochrone.note)
        if summary is None or resolved is None:
            st.info("No local yet: draw one on the map, ask for a walk-time local, or choose one from the list above the map.")
            chart_and_download: Callable[[], None] | None = None
        else:
            if st.button("Clear my local and start again"):
                local_state.clear()
                st.rerun()  # the whole page: the walk-time controls above forget the start too
            missing, chart_and_download = _show_results(summary, find_missing, spec, lay)
    listed = time.perf_counter()
    fmap = build.build_map(
        lay.map_data,
        hidden=frozenset(st.session_state.get("hidden", [])),
        pick_start=pick_start,
        served_url=lay.map_data_url,
        instant_drawings=True,
    )
    view = {}
    if resolved is not None and st.session_state.get("fit_view"):
        # A local made off the map (a link, an address, the list): bring it into view. Moving
        # the view re-clusters every marker, so a local drawn on the map (already in view) does not.
        west, south, east, north = resolved.area.bounds
        view = {
            "center": ((south + north) / 2, (west + east) / 2),
            "zoom": build.zoom_to_fit((west, south, east, north), width_px=540, height_px=MAP_HEIGHT - 60),
        }
    with map_column:
        st.markdown(SKIP_LINK, unsafe_allow_html=True)
        st_folium(
            fmap,
            key=local_state.map_key(),
            **view,
            height=MAP_HEIGHT,
            use_container_width=True,
            returned_objects=["all_drawings", "last_active_drawing", *(["last_clicked"] if pick_start else [])],
            feature_group_to_add=_highlights(summary, resolved, missing, origin, lay),
        )
        _combine_control(spec)  # under the map, where a drawing is made: it says how the drawing counts
        st.caption(f"Map data: {common.md(lay.extract.meta['name'])} — © OpenStreetMap contributors (ODbL).")
    mapped = time.perf_counter()
    if summary is not None and resolved is not None:
        _save_and_share(spec, resolved.area, user)
    _my_locals(user)
    if chart_and_download is not None:
        chart_and_download()
    # benchmarks/browser_bench.py reads this line for the server's share of "drawing -> list"
    log.info(
        "explore: list sent %.0f ms into the rerun, map sent at %.0f ms, done at %.0f ms",
        (listed - started) * 1000,
        (mapped - started) * 1000,
        (time.perf_counter() - started) * 1000,
    )


SKIP_LINK = '<a class="op-skip" href="#after-the-map">Skip the map</a>'


def _announcement(summary: query.AreaSummary | None) -> str:
    """A polite live region, always at the same place so screen readers hear its text change."""
    if summary is None:
        text = "No local yet."
    else:
        n = len(summary.items)
        text = f"{n:,} {'place' if n == 1 else 'places'} inside your local."
    return f'<p id="after-the-map" tabindex="-1" role="status" aria-live="polite" class="op-announce">{text}</p>'


def _no_map_chooser(lay: common.Layers) -> None:
    """Built only while open (like the walk-time controls): folded, it costs the first load nothing."""
    section = st.expander("No map? Choose your local from a list instead", key="list_open", on_change="rerun")
    if not section.open:
        return
    with section:
        named = lay.assets[lay.assets["name"].notna()].sort_values("name")
        if len(named) > MAX_LIST_CHOICES:  # thousands of names: find one by typing, not scrolling
            typed = st.text_input("Type part of a place's name", key="list_place_query")
            found = search.search_assets(named, typed, limit=MAX_LIST_CHOICES) if typed else named.iloc[0:0]
            named = named[named["id"].isin(found["id"])]
            if typed and named.empty:
                st.warning(f"No place on this map is called “{common.md(typed[:80])}”.")
            if named.empty:
                return
        options = named["id"].tolist()
        labels = named["name"].astype(str) + " (" + named["category"].map(common.category_labels()) + ")"
        names = dict(zip(named["id"], labels, strict=True))
        with st.form("choose-local"):
            place = st.selectbox("A place at the middle of your local", options, format_func=lambda key: names.get(key, key))
            radius = st.number_input("How far around it, in metres", min_value=50, max_value=5000, value=400, step=50)
            if st.form_submit_button("Show what is within this distance"):
                row = named[named["id"] == place].iloc[0]
                point = row.geometry.representative_point()
                st.session_state["drawn"] = {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"radius": float(radius)},
                            "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
                        }
                    ],
                }
                st.session_state["drawn_signature"] = None
                st.session_state.pop("walk_start", None)
                st.session_state["fit_view"] = True
                local_state.remount_map()
                st.rerun()


render()
