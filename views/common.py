"""Shared, cached resources for every page: the layers, their index and their map payload."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import streamlit as st

from layers import access, accounts, catalogue, categories, query, sources
from layers.errors import OurPatchError
from mapping import build, vendor


@dataclass(frozen=True)
class Layers:
    extract: sources.Extract
    assets: gpd.GeoDataFrame
    index: query.AssetIndex
    map_data: build.MapData
    map_data_url: str | None  # the map's data, served once as a script (None: inside the map's script)


@st.cache_resource(show_spinner="Loading the map layers…", max_entries=2)
def _load_layers(version: str) -> Layers:
    extract = sources.current()
    assets = catalogue.all_assets(extract)
    map_data = build.prepare(assets, extract.basemap, extract.bounds)
    return Layers(
        extract=extract,
        assets=assets,
        index=query.AssetIndex(assets),
        map_data=map_data,
        map_data_url=_published(map_data),
    )


def _published(map_data: build.MapData) -> str | None:
    """The URL of the map's data script; None (data inside each map) when static/ is read-only."""
    try:
        return build.publish(map_data)
    except OSError as exc:
        logging.getLogger(__name__).warning("Map data served inside the map (cannot write %s: %s)",
                                            build.SERVED_DIR, exc)
        return None


def layers() -> Layers:
    """The current layers; rebuilt only when the extract or the community store changes."""
    try:
        return _load_layers(catalogue.version())
    except OurPatchError as exc:
        st.error(f"The map data could not be loaded: {md(exc)}")
        st.stop()


@st.cache_resource(show_spinner="Preparing the street network…", max_entries=6)
def _network(version: str, mode_id: str) -> access.StreetNetwork:
    return access.StreetNetwork(layers().extract.network, access.mode_by_id(mode_id))


def network_for(mode_id: str) -> access.StreetNetwork:
    """The street network for a way of travelling (built once per extract, then cached)."""
    return _network(catalogue.extract_version(), mode_id)


def signed_in_user() -> accounts.User | None:
    """The person signed in to this session, looked up afresh (a removed account signs out)."""
    user_id = st.session_state.get("user_id")
    return accounts.get_user(int(user_id)) if user_id is not None else None


def require_role(roles: tuple[str, ...], invitation: str) -> accounts.User | None:
    """The signed-in person if their role may use this page; else an invitation to sign in.
    (The page's actions check permissions again in layers/: this only decides what to show.)"""
    user = signed_in_user()
    if user is None or user.role not in roles:
        st.info(invitation)
        return None
    return user


def md(text: object) -> str:
    """Any text made inert for Streamlit's markdown (messages, headings, toasts): user and OSM
    text can carry no links, emphasis or HTML. Every message that may hold such text goes through here."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch for ch in str(text))


def category_labels() -> dict[str, str]:
    return {c.id: c.label for c in categories.load_categories()}


def check_front_end_assets() -> None:
    missing = vendor.missing_vendor_files()
    if missing:
        st.error(
            "The map's scripts are not installed (missing: "
            + ", ".join(missing[:3])
            + "). Run `make assets` (or `make run`, which does it for you)."
        )
        st.stop()
