"""Your group: add and keep up your community assets, link them to the places you care for,
import many at once. Changes wait for a moderator before residents see them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from layers import categories, community, importer, search, store
from layers.errors import BadInputError, OurPatchError
from mapping import build, drawing
from views import common

STATUS_WORDS = {"pending": "Waiting for a moderator", "published": "On the map", "rejected": "Not accepted"}


def _my_assets(user: Any) -> list[dict[str, Any]]:
    rows = community.visible_assets(user, group=user.group) if user.group else community.visible_assets(user)
    return rows if user.role != "editor" else [r for r in rows if r["group_name"] == user.group]


def _asset_list(user: Any) -> None:
    rows = _my_assets(user)
    st.subheader("Your assets" if user.role == "editor" else "All community assets")
    if not rows:
        st.info("Nothing yet: add your first asset below.")
        return
    st.table(common.safe_table(pd.DataFrame({
        "Name": [r["name"] for r in rows],
        "Group": [r["group_name"] or "" for r in rows],
        "Status": [STATUS_WORDS.get(r["status"], r["status"]) for r in rows],
        "Why not accepted": [r["rejection_reason"] or "" for r in rows],
        "Last checked": [common.human_date(r["last_verified"]) + (" (out of date)" if community.is_stale(r) else "")
                         for r in rows],
    })))
    names = {r["id"]: f"{r['name']} ({STATUS_WORDS.get(r['status'], r['status'])})" for r in rows}
    chosen = st.selectbox("Choose one to check or change", list(names), format_func=lambda i: names[i],
                          key="group_asset_pick")
    c1, c2 = st.columns(2)
    if c1.button("It is still right (mark as checked today)", key="verify_asset"):
        try:
            community.verify(user, int(chosen))
            st.success("Marked as checked today.")
        except OurPatchError as exc:
            st.error(common.md(exc))
    if c2.button("Change it", key="edit_asset"):
        st.session_state["editing"] = int(chosen)
        st.rerun()


def _targets(lay: common.Layers) -> dict[str, str]:
    named = lay.assets[lay.assets["name"].notna()]
    labels = named["name"].astype(str) + " (" + named["category"].map(common.category_labels()) + ")"
    return dict(zip(named["id"].astype(str), labels, strict=True))


def _location(lay: common.Layers, kind: str) -> Any:
    """Where the asset is: an address from the extract, a click on the map, or a drawn area."""
    st.markdown("**Where** — " + ("click the map, or find an address" if kind == "place"
                                  else "draw the area on the map with the shape tools"))
    if kind == "place":
        text = st.text_input("Find an address or place", key="asset_address")
        if text:
            found = search.search_places(lay.extract.gazetteer, text, limit=10)
            if len(found):
                labels = [f"{r.label} ({r.kind})" for r in found.itertuples()]
                pick = st.selectbox("Matches", range(len(labels)), format_func=lambda i: labels[i], key="asset_addr_pick")
                row = found.iloc[int(pick)]
                st.session_state["asset_point"] = (float(row["lon"]), float(row["lat"]))
            else:
                st.warning("No address or place on this map matches that.")
    fmap = build.build_map(lay.map_data, pick_start=kind == "place", draw=kind != "place")
    out = st_folium(fmap, key=f"group-map-{kind}", height=380, use_container_width=True,
                    returned_objects=["last_clicked"] if kind == "place" else ["all_drawings", "last_active_drawing"])
    if kind == "place":
        if out and out.get("last_clicked"):
            clicked = out["last_clicked"]
            st.session_state["asset_point"] = (float(clicked["lng"]), float(clicked["lat"]))
        point = st.session_state.get("asset_point")
        if point:
            st.caption(f"Location: {point[1]:.5f} N, {point[0]:.5f} E")
            return shapely.Point(point)
        return None
    try:
        area = drawing.area_from_map_output(out)
    except BadInputError as exc:
        st.error(common.md(exc))
        return None
    if area is not None:
        st.caption("Area drawn.")
    return area


def _form(user: Any, lay: common.Layers) -> None:
    editing = st.session_state.get("editing")
    current = store.get_asset(int(editing)) if editing else None
    st.subheader(f"Change {common.md(current['name'])}" if current else "Add an asset")
    cats = categories.load_categories()
    kind = st.radio("What is it?", list(community.KINDS), format_func=lambda k: community.KINDS[k],
                    index=list(community.KINDS).index(current["kind"]) if current else 0, key="asset_kind")
    geometry = _location(lay, kind)
    if geometry is None and current is not None:
        geometry = shapely.from_wkt(current["geometry_wkt"])
    targets = _targets(lay)
    with st.form("asset-form"):
        def value(field: str) -> str:
            return str(current.get(field) or "") if current else ""

        name = st.text_input("Name", value=value("name"), max_chars=community.LIMITS["name"])
        category = st.selectbox("Category", [c.id for c in cats], format_func=lambda c: common.category_labels()[c],
                                index=[c.id for c in cats].index(current["category"] if current else "community_groups"))
        description = st.text_area("What you do", value=value("description"), max_chars=community.LIMITS["description"])
        schedule = st.text_input("When you meet or open (for example Saturdays 10:00-12:00)", value=value("schedule"),
                                 max_chars=community.LIMITS["schedule"])
        eligibility = st.text_input("Who it is for", value=value("eligibility"), max_chars=community.LIMITS["eligibility"])
        website = st.text_input("Website (https://…)", value=value("website"), max_chars=community.LIMITS["website"])
        online_url = st.text_input("Online community link (for an online community)", value=value("online_url"),
                                   max_chars=community.LIMITS["online_url"])
        email = st.text_input("Email", value=value("email"), max_chars=community.LIMITS["email"])
        phone = st.text_input("Phone", value=value("phone"), max_chars=community.LIMITS["phone"])
        relation = st.selectbox("Link to a place", ["", *community.RELATIONS],
                                format_func=lambda r: community.RELATIONS.get(r, "No link"))
        target = st.selectbox("The place", ["", *targets], format_func=lambda t: targets.get(t, "—"),
                              key="asset_link_target")
        submitted = st.form_submit_button("Save changes" if current else "Send for checking")
    if not submitted:
        return
    data = {"name": name, "category": category, "kind": kind, "description": description, "schedule": schedule,
            "eligibility": eligibility, "website": website, "online_url": online_url, "email": email,
            "phone": phone, "geometry": geometry,
            "links": [{"relation": relation, "target": target}] if relation and target else
            ([{"relation": link["relation"], "target": community.target_id(link)} for link in current["links"]]
             if current else [])}
    if geometry is not None and not current:
        similar = community.similar_nearby(name, geometry, lay.assets)
        if similar and st.session_state.get("confirmed_similar") != name:
            st.session_state["confirmed_similar"] = name
            st.warning(f"Something with a similar name is already within 100 m: {common.md(', '.join(similar))}. "
                       "If yours is different, press the button again.")
            return
    try:
        if current:
            community.update_asset(user, int(current["id"]), data, expected_version=int(current["version"]))
            st.session_state.pop("editing", None)
            st.success("Saved. A moderator will check the change before residents see it."
                       if user.role == "editor" else "Saved.")
        else:
            community.create_asset(user, data, group=user.group)
            st.success(f"Thank you: {common.md(name)} is waiting for a moderator to check it.")
        st.session_state.pop("asset_point", None)
    except OurPatchError as exc:
        st.error(common.md(exc))


def _import(user: Any) -> None:
    with st.expander("Add many at once from a file"):
        st.markdown("CSV (`name`, `lon`, `lat`, …), GeoJSON, GeoPackage, zipped Shapefile or KML, up to 50 MB. "
                    "Every row is checked first; if one is wrong, nothing is added and you are told which.")
        upload = st.file_uploader("File", type=["csv", "geojson", "json", "gpkg", "zip", "kml"], key="import_file")
        if upload is not None and st.button("Check and add", key="import_go"):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / Path(upload.name).name
                path.write_bytes(upload.getbuffer())
                try:
                    with common.progress_bar("Importing the file") as progress:
                        result = importer.import_file(user, path, group=user.group, progress=progress)
                    st.success(f"Added {len(result.ids)} assets; they wait for a moderator.")
                except importer.ImportRefusedError as exc:
                    st.error(common.md(exc))
                    st.table(common.safe_table(pd.DataFrame({
                        "Row": [r.row for r in exc.report], "Name": [r.name for r in exc.report],
                        "Problem": [r.problem or "fine" for r in exc.report]})))
                except OurPatchError as exc:
                    st.error(common.md(exc))


def render() -> None:
    st.title("Your group on the map")
    user = common.require_role(("editor", "moderator", "admin"),
                               "Community group editors sign in to add and keep up their group's assets "
                               "(the Sign in page). Residents can see everything published on the map.")
    if user is None:
        return
    lay = common.layers()
    if user.role != "editor" and not user.group:
        st.caption("You are not in a group: the form adds assets for the group you name in a file import.")
    _asset_list(user)
    if user.group:
        _form(user, lay)
        _import(user)


render()
