"""Shared, cached resources for every page: the layers, their index and their map payload."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from layers import catalogue, categories
from layers.analysis import access, query
from layers.errors import OurPatchError
from layers.groups import accounts, sessions
from layers.osm import sources
from layers.progress import Progress
from mapping import build, vendor


@dataclass(frozen=True)
class Layers:
    extract: sources.Extract
    assets: gpd.GeoDataFrame
    index: query.AssetIndex
    map_data: build.MapData
    map_data_url: str | None  # the map's data, served once as a script (None: inside the map's script)


@contextmanager
def progress_bar(label: str, holder: DeltaGenerator | None = None) -> Iterator[Progress]:
    """`st.status` with a bar that layers' progress callbacks move ("Reading streets… 2 of 6");
    gone once the work is done (an error stays). `holder`: an `st.empty()` to show it in."""
    holder = holder if holder is not None else st.empty()
    with holder.status(label, expanded=True) as status:
        bar = st.progress(0.0, text=label)

        def update(what: str, step: int, total: int) -> None:
            bar.progress(min(1.0, step / total) if total else 1.0, text=f"{what}… {step:,} of {total:,}")

        yield update
        status.update(label=label, state="complete")
    holder.empty()


_SHOWN_LOADING: set[str] = set()  # layer versions this process has loaded in front of someone


@st.cache_resource(show_spinner=False, max_entries=2)
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
        logging.getLogger(__name__).warning("Map data served inside the map (cannot write %s: %s)", build.SERVED_DIR, exc)
        return None


def layers() -> Layers:
    """The current layers; rebuilt only when the extract or the community store changes."""
    # Always there, so the page's elements keep their places (a map that moved would be rebuilt).
    holder = st.empty()
    try:
        version = catalogue.version()
        if version not in _SHOWN_LOADING:
            # The first load in this process: a cold extract takes seconds, so show each step.
            with progress_bar("Loading the map layers", holder) as progress:
                sources.current(progress=progress)
                progress("Indexing the places and preparing the map", 1, 1)
                version = catalogue.version()  # a first load writes the prepared extract
                loaded = _load_layers(version)
            _SHOWN_LOADING.add(version)
            return loaded
        return _load_layers(version)
    except (OurPatchError, OSError) as exc:  # OSError: a data folder that cannot be read or written
        st.error(f"The map data could not be loaded: {md(exc)}")
        st.stop()


@st.cache_resource(show_spinner="Preparing the street network…", max_entries=6)
def _network(version: str, mode_id: str) -> access.StreetNetwork:
    return access.StreetNetwork(_load_layers(catalogue.version()).extract.network, access.mode_by_id(mode_id))


def network_for(mode_id: str) -> access.StreetNetwork:
    """The street network for a way of travelling (built once per extract, then cached)."""
    return _network(catalogue.extract_version(), mode_id)


SESSION_KEYS = ("session_id", "user_id")


def forget_person() -> None:
    """Clear everything of the signed-in person from this browser session (widgets, links
    prefilled on Compare, forms half filled): the next person starts clean."""
    for key in list(st.session_state):
        del st.session_state[key]
    st.query_params.clear()  # a private link to a saved local, say


def _single_sign_on_user() -> accounts.User | None:
    """The account an admin gave the e-mail of the person signed in with council single sign-on."""
    try:
        if not st.user.is_logged_in:
            return None
    except (AttributeError, KeyError):  # no [auth] configured
        return None
    if st.user.get("email_verified") is False:
        return None
    return accounts.user_for_email(str(st.user.get("email") or ""))


def signed_in_user() -> accounts.User | None:
    """The person signed in to this browser, looked up afresh each rerun (a removed account or a
    session ended elsewhere signs out): this tab's session, else the session cookie (a reload or a
    new tab), else council single sign-on."""
    state = st.session_state
    if state.get("session_id") is not None:
        found = sessions.from_id(int(state["session_id"]))
        if found is None or found.user.id != state.get("user_id"):
            forget_person()
            return None
        return found.user
    if state.get("user_id") is not None:
        return accounts.get_user(int(state["user_id"]))
    token = st.context.cookies.get(sessions.COOKIE_NAME)
    if token and not state.get("signed_out"):
        found = sessions.from_token(token)
        if found is not None:
            state["session_id"], state["user_id"] = found.id, found.user.id
            return found.user
    return _single_sign_on_user()


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
    text can carry no links, emphasis or HTML. Every message that may hold such text goes through here.
    `:` and `@` are escaped too, so "http://…", "www.…" and e-mail addresses do not become links
    (GitHub-flavoured Markdown links them even without brackets)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:@" else ch for ch in str(text))


# Plain words for stored field names wherever a page lists fields (GOV.UK style: no raw names).
FIELD_WORDS = {
    "name": "Name",
    "kind": "Kind",
    "category": "Category",
    "description": "What it is",
    "schedule": "When it meets or opens",
    "eligibility": "Who it is for",
    "website": "Website",
    "online_url": "Online link",
    "email": "Email",
    "phone": "Phone",
    "last_verified": "Last checked",
    "rejection_reason": "Why not accepted",
    "links": "Linked places",
    "geometry_wkt": "Location",
    "status": "Status",
    "group_name": "Group",
    "address": "Address",
    "opening_hours": "Opening hours",
    "note": "Note",
    "lon": "Longitude",
    "lat": "Latitude",
}


def field_words(name: str) -> str:
    return FIELD_WORDS.get(name, name.replace("_", " ").capitalize())


def category_labels() -> dict[str, str]:
    return {c.id: c.label for c in categories.load_categories()}


_assets_found = False  # once found, the installed scripts stay: later runs do not look again


def check_front_end_assets() -> None:
    global _assets_found
    if _assets_found:
        return
    missing = vendor.missing_vendor_files()
    _assets_found = not missing
    if missing:
        st.error(
            "The map's scripts are not installed (missing: "
            + ", ".join(missing[:3])
            + "). Run `make assets` (or `make run`, which does it for you)."
        )
        st.stop()


def safe_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose headings and text cells are inert for Streamlit's Markdown:
    st.table renders Markdown in both, so a name like `![](http://…)` would load an outside
    image and `# APPROVE ME` would show as a heading. Every table a page shows goes through here."""
    out = frame.copy()
    out.columns = [md(c) for c in out.columns]
    if not isinstance(out.index, pd.RangeIndex):
        out.index = [md(v) if isinstance(v, str) else v for v in out.index]
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            out.isetitem(position, [md(v) if isinstance(v, str) else v for v in column])
    return out


def client_source() -> str:
    """Where this browser connects from: its network address as the server sees it ("localhost"
    on the server itself). A server-side key that clearing the browser's state does not reset;
    used to delay repeated wrong passwords and to count anonymous residents once."""
    return f"ip:{st.context.ip_address or 'localhost'}"


def when(stamp: object) -> str:
    """A stored ISO date or time as people write it: "26 Nov 2026" or "26 Nov 2026, 05:49"."""
    text = str(stamp or "").strip()
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    day = f"{moment.day} {moment:%b %Y}"
    return day if len(text) <= 10 else f"{day}, {moment:%H:%M}"
