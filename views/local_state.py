"""The resident's current local, kept in Streamlit's session state, and its share link."""

from __future__ import annotations

import json
import zlib
from typing import Any

import streamlit as st

from layers.analysis import local_spec
from layers.errors import BadInputError
from mapping import drawing

DEFAULT_MINUTES = 15


def map_key() -> str:
    """Changes whenever the map must be rebuilt in the browser: cleared, other layers, or
    clicks switched on or off (streamlit-folium reads what it reports only when it mounts)."""
    hidden = ",".join(sorted(st.session_state.get("hidden", [])))
    picking = "pick" if st.session_state.get("pick_start") else "view"
    return f"explore-map-{st.session_state.setdefault('map_version', 0)}-{picking}-{zlib.crc32(hidden.encode())}"


def remount_map() -> None:
    st.session_state["map_version"] = st.session_state.get("map_version", 0) + 1


def current_spec() -> local_spec.LocalSpec:
    walk = None
    start = st.session_state.get("walk_start")
    if start is not None:
        walk = local_spec.WalkSpec(
            start[0],
            start[1],
            float(st.session_state.get("walk_minutes", DEFAULT_MINUTES)),
            st.session_state.get("walk_mode", "walk"),
        )
    return local_spec.LocalSpec(
        drawn=st.session_state.get("drawn"),
        walk=walk,
        combine=st.session_state.get("combine", "union"),
        hidden=tuple(st.session_state.get("hidden", [])),
    )


def take_map_output(pick_start: bool) -> bool:
    """Fold what the map reported (drawings, a click) into the session's local. True when a click
    set a new walk-time start."""
    out: dict[str, Any] | None = st.session_state.get(map_key())
    if not out:
        return False
    features = drawing.drawn_features(out)
    signature = json.dumps(features, sort_keys=True)
    if signature != st.session_state.get("drawn_signature"):
        st.session_state["drawn_signature"] = signature
        st.session_state["fit_view"] = False
        st.session_state["drawn"] = {"type": "FeatureCollection", "features": features} if features else None
        st.session_state["drawn_new"] = bool(features)
    clicked = out.get("last_clicked")
    if pick_start and clicked and clicked != st.session_state.get("click_seen"):
        st.session_state["click_seen"] = clicked
        st.session_state["walk_start"] = (float(clicked["lng"]), float(clicked["lat"]))
        st.session_state["start_label"] = "the point you clicked"
        st.session_state["fit_view"] = False
        return True
    return False


def clear() -> None:
    for key in ("drawn", "drawn_signature", "walk_start", "start_label", "loaded_token"):
        st.session_state.pop(key, None)
    st.query_params.clear()
    remount_map()


def open_shared(token: str) -> str | None:
    """Load a saved local from its private token into the session. Returns its name."""
    saved = local_spec.saved(token)
    if saved is None:
        raise BadInputError("That link does not open a saved local: it may be mistyped.")
    spec = local_spec.LocalSpec.from_json(saved.spec_json)
    st.session_state["drawn"] = spec.drawn
    st.session_state["drawn_signature"] = None
    st.session_state["combine"] = spec.combine
    st.session_state["hidden"] = list(spec.hidden)
    st.session_state.pop("shown_categories", None)  # the layers chooser starts from the saved choice
    if spec.walk is not None:
        st.session_state["walk_start"] = (spec.walk.lon, spec.walk.lat)
        st.session_state["walk_minutes"] = round(spec.walk.minutes)
        st.session_state["walk_mode"] = spec.walk.mode
        st.session_state["start_label"] = "the saved start"
    else:
        st.session_state.pop("walk_start", None)
    st.session_state["loaded_token"] = token
    st.session_state["loaded_name"] = saved.name
    st.session_state["fit_view"] = True
    remount_map()
    return saved.name


def remember_saved(token: str, name: str) -> None:
    mine = st.session_state.setdefault("my_locals", [])
    mine.append({"token": token, "name": name})
