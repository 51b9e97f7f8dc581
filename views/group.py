"""Your group: add and keep up your community assets, link them to the places you care for,
import many at once. Changes wait for a moderator before residents see them."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from layers import categories
from layers.analysis import search
from layers.errors import BadInputError, OurPatchError
from layers.groups import community, importer
from mapping import build, drawing, pins
from views import common

STATUS_WORDS = {"pending": "Waiting for a moderator", "published": "On the map", "rejected": "Not accepted"}
FLASH = "group_flash"


def _form_key() -> str:
    """Every widget of the form is keyed by the asset being changed, or by a fresh nonce for a new
    one (rotated after each send): a form never shows another asset's values."""
    editing = st.session_state.get("editing")
    if editing:
        return f"asset-{int(editing)}"
    if "asset_form_nonce" not in st.session_state:
        st.session_state["asset_form_nonce"] = secrets.token_hex(6)
    return f"new-{st.session_state['asset_form_nonce']}"


def _forget_form(key: str) -> None:
    """Drop every widget value of this form and start the next one empty."""
    for name in [k for k in st.session_state if str(k).endswith(f"-{key}")]:
        del st.session_state[name]
    st.session_state["asset_form_nonce"] = secrets.token_hex(6)


def _done(message: str, key: str) -> None:
    st.session_state[FLASH] = message
    st.session_state.pop("editing", None)
    _forget_form(key)
    st.rerun()


def _my_assets(user: Any) -> list[community.Asset]:
    rows = community.visible_assets(user, group=user.group) if user.group else community.visible_assets(user)
    return rows if user.role != "editor" else [r for r in rows if r.group_name == user.group]


def _asset_list(user: Any) -> None:
    rows = _my_assets(user)
    st.subheader("Your assets" if user.role == "editor" else "All community assets")
    if not rows:
        st.info("Nothing yet: add your first asset below.")
        return
    st.table(
        common.safe_table(
            pd.DataFrame(
                {
                    "Name": [r.name for r in rows],
                    "Group": [r.group_name or "" for r in rows],
                    "Status": [STATUS_WORDS.get(r.status, r.status) for r in rows],
                    "Why not accepted": [r.rejection_reason or "" for r in rows],
                    "Last checked": [
                        f"{common.when(r.last_verified)}{' (out of date)' if community.is_stale(r) else ''}" for r in rows
                    ],
                    "Links": [", ".join(community.link_label(link) for link in r.links) for r in rows],
                }
            )
        )
    )
    on_map = community.targets_on_the_map() if any(r.links for r in rows) else None
    for r in rows:
        for problem in community.link_problems(r, on_map):
            st.warning(common.md(f"{r.name}: {problem.message} Choose it below and press Change it to mend the link."))
    names = {r.id: f"{r.name} ({STATUS_WORDS.get(r.status, r.status)})" for r in rows}
    chosen = st.selectbox("Choose one to check or change", list(names), format_func=lambda i: names[i], key="group_asset_pick")
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


MAP_HEIGHT = 380


def _place(lay: common.Layers, key: str, current: community.Asset | None) -> Any:
    """A point: from an address (the pin appears on the map), a click on the map, or the pin dragged."""
    point_key = f"point-{key}"
    if point_key not in st.session_state and current is not None and isinstance(current.geometry, shapely.Point):
        st.session_state[point_key] = (current.geometry.x, current.geometry.y)
    text = st.text_input("Find an address or place", key=f"address-{key}")
    if text:
        found = search.search_places(lay.extract.gazetteer, text, limit=10)
        if len(found):
            labels = [f"{r.label} ({r.kind})" for r in found.itertuples()]
            pick = st.selectbox("Matches", range(len(labels)), format_func=lambda i: labels[i], key=f"addrpick-{key}")
            choice = (text, labels[int(pick)])
            if st.session_state.get(f"addr-applied-{key}") != choice:  # a new choice moves the pin
                row = found.iloc[int(pick)]
                st.session_state[point_key] = (float(row["lon"]), float(row["lat"]))
                st.session_state[f"addr-applied-{key}"] = choice
        else:
            st.warning("No address or place on this map matches that.")
    point = st.session_state.get(point_key)
    view = {"center": (point[1], point[0]), "zoom": 16} if point else {}
    out = st_folium(
        build.build_map(lay.map_data, pick_start=True, draw=False),
        key=f"map-{key}",
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["last_clicked"],
        feature_group_to_add=pins.pin_group(point),
        **view,
    )
    clicked = pins.clicked_point(out)
    if clicked is not None and clicked != st.session_state.get(f"click-seen-{key}"):
        st.session_state[f"click-seen-{key}"] = clicked
        st.session_state[point_key] = clicked
        st.rerun()  # show the pin where it was put
    if point:
        st.caption(f"Location: {point[1]:.5f} N, {point[0]:.5f} E — drag the pin to move it.")
        return shapely.Point(point)
    return None


def _area(lay: common.Layers, key: str, current: community.Asset | None) -> Any:
    saved = current.geometry if current is not None and current.kind != "place" else None
    out = st_folium(
        build.build_map(lay.map_data, draw=True),
        key=f"map-{key}",
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["all_drawings", "last_active_drawing"],
        feature_group_to_add=pins.pin_group(area=saved) if saved is not None else None,
    )
    try:
        area = drawing.area_from_map_output(out)
    except BadInputError as exc:
        st.error(common.md(exc))
        return None
    if area is not None:
        st.caption("Area drawn.")
        return area
    if saved is not None:
        st.caption("The area as saved (outlined in red); draw a new one to replace it.")
    return saved


def _location(lay: common.Layers, kind: str, key: str, current: community.Asset | None) -> Any:
    """Where the asset is: an address from the extract, a click on the map, or a drawn area."""
    st.markdown(
        "**Where** — "
        + (
            "find an address, or click the map; drag the pin to move it"
            if kind == "place"
            else "draw the area on the map with the shape tools"
        )
    )
    return _place(lay, key, current) if kind == "place" else _area(lay, key, current)


def _link_problems(user: Any, current: community.Asset, lay: common.Layers) -> None:
    """Links whose map feature is gone after a data refresh, each with its likely replacement."""
    labels = _targets(lay)
    for n, problem in enumerate(community.link_problems(current)):
        st.warning(common.md(problem.message))
        if problem.replacement and st.button(
            f"Use this instead: {labels.get(problem.replacement, 'the new one')}", key=f"replace-{n}-{current.id}"
        ):
            try:
                community.use_replacement(
                    user, current.id, community.target_id(problem.link), problem.replacement, expected_version=current.version
                )
                _done("Link mended. A moderator will check the change.", f"asset-{current.id}")
            except OurPatchError as exc:
                st.error(common.md(exc))


def _form(user: Any, lay: common.Layers) -> None:
    key = _form_key()
    editing = st.session_state.get("editing")
    try:
        current = community.asset_for(user, int(editing)) if editing else None
    except OurPatchError as exc:
        st.error(common.md(exc))
        st.session_state.pop("editing", None)
        return
    if current is not None:
        st.subheader(f"Change {common.md(current.name)}")
        if st.button("Stop changing it (add a new asset instead)", key=f"cancel-{key}"):
            st.session_state.pop("editing", None)
            st.rerun()
        _link_problems(user, current, lay)
    else:
        st.subheader("Add an asset")
    cats = categories.load_categories()
    kind = st.radio(
        "What is it?",
        list(community.KINDS),
        format_func=lambda k: community.KINDS[k],
        index=list(community.KINDS).index(current.kind) if current else 0,
        key=f"kind-{key}",
    )
    geometry = _location(lay, kind, key, current)
    targets = _targets(lay)
    links = current.links if current else ()
    first = links[0] if links else None
    if first is not None and community.target_id(first) not in targets:
        why = "not on the map yet" if first.target_asset_id is not None else "no longer on the map"
        targets = {**targets, community.target_id(first): f"{community.target_name(first)} ({why})"}
    with st.form(f"asset-form-{key}"):

        def value(field: str) -> str:
            return str(getattr(current, field) or "") if current else ""

        name = st.text_input("Name", value=value("name"), max_chars=community.LIMITS["name"], key=f"name-{key}")
        category = st.selectbox(
            "Category",
            [c.id for c in cats],
            format_func=lambda c: common.category_labels()[c],
            index=[c.id for c in cats].index(current.category if current else "community_groups"),
            key=f"category-{key}",
        )
        description = st.text_area(
            "What you do", value=value("description"), max_chars=community.LIMITS["description"], key=f"description-{key}"
        )
        schedule = st.text_input(
            "When you meet or open (for example Saturdays 10:00-12:00)",
            value=value("schedule"),
            max_chars=community.LIMITS["schedule"],
            key=f"schedule-{key}",
        )
        eligibility = st.text_input(
            "Who it is for", value=value("eligibility"), max_chars=community.LIMITS["eligibility"], key=f"eligibility-{key}"
        )
        website = st.text_input(
            "Website (https://…)", value=value("website"), max_chars=community.LIMITS["website"], key=f"website-{key}"
        )
        online_url = st.text_input(
            "Online community link (for an online community)",
            value=value("online_url"),
            max_chars=community.LIMITS["online_url"],
            key=f"online_url-{key}",
        )
        email = st.text_input("Email", value=value("email"), max_chars=community.LIMITS["email"], key=f"email-{key}")
        phone = st.text_input("Phone", value=value("phone"), max_chars=community.LIMITS["phone"], key=f"phone-{key}")
        relations = ["", *community.RELATIONS]
        relation = st.selectbox(
            "Link to a place",
            relations,
            format_func=lambda r: community.RELATIONS.get(r, "No link"),
            index=relations.index(first.relation) if first else 0,
            key=f"relation-{key}",
        )
        options = ["", *targets]
        target = st.selectbox(
            "The place",
            options,
            format_func=lambda t: targets.get(t, "—"),
            index=options.index(community.target_id(first)) if first else 0,
            key=f"target-{key}",
        )
        if len(links) > 1:
            st.caption("Also linked (kept): " + common.md("; ".join(community.link_label(x) for x in links[1:])))
        submitted = st.form_submit_button("Save changes" if current else "Send for checking")
    if not submitted:
        return
    if bool(relation) != bool(target):
        st.error("Choose both the kind of link and the place, or neither.")
        return
    data = {
        "name": name,
        "category": category,
        "kind": kind,
        "description": description,
        "schedule": schedule,
        "eligibility": eligibility,
        "website": website,
        "online_url": online_url,
        "email": email,
        "phone": phone,
        "geometry": geometry,
        "links": ([{"relation": relation, "target": target}] if relation else [])
        + [{"relation": x.relation, "target": community.target_id(x)} for x in links[1:]],
    }
    if current is not None:
        data["address"], data["opening_hours"] = current.address, current.opening_hours
    if geometry is not None and not current:
        similar = community.similar_nearby(name, geometry, lay.assets)
        if similar and st.session_state.get(f"confirmed_similar-{key}") != name:
            st.session_state[f"confirmed_similar-{key}"] = name
            st.warning(
                f"Something with a similar name is already within 100 m: {common.md(', '.join(similar))}. "
                "If yours is different, press the button again."
            )
            return
    try:
        if current:
            community.update_asset(user, current.id, data, expected_version=current.version)
            _done(
                f"Saved {name}. A moderator will check the change before residents see it."
                if user.role == "editor"
                else f"Saved {name}.",
                key,
            )
        else:
            community.create_asset(user, data, group=user.group)
            _done(f"Thank you: {name} is waiting for a moderator to check it.", key)
    except OurPatchError as exc:
        st.error(common.md(exc))


def _import(user: Any) -> None:
    with st.expander("Add many at once from a file"):
        st.markdown(
            "CSV (`name`, `lon`, `lat`, …), GeoJSON, GeoPackage, zipped Shapefile or KML, up to 50 MB. "
            "Every row is checked first; if one is wrong, nothing is added and you are told which."
        )
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
                    st.table(
                        common.safe_table(
                            pd.DataFrame(
                                {
                                    "Row": [r.row for r in exc.report],
                                    "Name": [r.name for r in exc.report],
                                    "Problem": [r.problem or "fine" for r in exc.report],
                                }
                            )
                        )
                    )
                except OurPatchError as exc:
                    st.error(common.md(exc))


def render() -> None:
    st.title("Your group on the map")
    user = common.require_role(
        ("editor", "moderator", "admin"),
        "Community group editors sign in to add and keep up their group's assets "
        "(the Sign in page). Residents can see everything published on the map.",
    )
    if user is None:
        return
    lay = common.layers()
    if FLASH in st.session_state:
        st.success(common.md(st.session_state.pop(FLASH)))
    if user.role != "editor" and not user.group:
        st.caption("You are not in a group: the form adds assets for the group you name in a file import.")
    _asset_list(user)
    if user.group:
        _form(user, lay)
        _import(user)


render()
