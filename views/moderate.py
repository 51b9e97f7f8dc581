"""Moderation: publish or reject what groups send, see every change, restore an earlier version.

Publish and reject apply to the version the moderator was shown: the buttons carry that version
(bound when the page was drawn), and the store refuses if the asset changed in between.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from layers.errors import ChangedMeanwhileError, OurPatchError
from layers.groups import community
from mapping import build, pins
from views import common

# As on the group's form ("Your group"), so moderators and groups speak of the same things.
FIELD_LABELS = {
    "name": "Name",
    "category": "Category",
    "kind": "What is it?",
    "geometry": "Where",
    "description": "What you do",
    "schedule": "When you meet or open",
    "eligibility": "Who it is for",
    "website": "Website",
    "online_url": "Online community link",
    "email": "Email",
    "phone": "Phone",
    "address": "Address",
    "opening_hours": "Opening hours",
    "links": "Link to a place",
    "status": "Status",
    "last_verified": "Last checked",
    "rejection_reason": "Why not accepted",
}
STATUS_WORDS = {"pending": "Waiting", "published": "On the map", "rejected": "Not accepted"}
ACTION_WORDS = {
    "created": "Sent",
    "edited": "Changed",
    "published": "Published",
    "rejected": "Rejected",
    "verified": "Marked as still right",
}
FLASH = "moderate_flash"


def _action(action: str) -> str:
    if action.startswith("restored version"):
        return "Restored " + action.removeprefix("restored ")
    return ACTION_WORDS.get(action, action)


def _show(field: str, value: Any, names: dict[str, str]) -> str:
    if field == "links":
        return "; ".join(community.link_label(link, names) for link in value or []) or "No link"
    if field == "category":
        return common.category_labels().get(str(value), str(value or ""))
    if field == "kind":
        return community.KINDS.get(str(value), str(value or ""))
    if field == "geometry":
        if value is None or value.is_empty:
            return ""
        if isinstance(value, shapely.Point):
            return f"{value.y:.5f} N, {value.x:.5f} E"
        return "An area (shown on the map)"
    if field == "last_verified":
        return common.when(value)
    if field == "status":
        return STATUS_WORDS.get(str(value), str(value or ""))
    return "" if value is None else str(value)


def _cell(text: str) -> str:
    """Table cells render Markdown (and turn web addresses into links): show the text as typed."""
    return common.md(text).replace("://", ":\\/\\/")


def _last_published(history: list[community.Change]) -> community.Change | None:
    shown = [h for h in history if h.status == "published"]
    return shown[-1] if shown else None


def _details(asset: community.Asset, history: list[community.Change], names: dict[str, str]) -> None:
    published = _last_published(history)
    fields = [
        "name",
        "category",
        "kind",
        "geometry",
        "description",
        "schedule",
        "eligibility",
        "website",
        "online_url",
        "email",
        "phone",
        "links",
        "status",
        "last_verified",
        "rejection_reason",
    ]
    changed = []
    for field in fields:
        now = community.field_value(asset, field)
        if published is None:
            changed.append("New" if community.comparable(field, now) else "")
        elif community.comparable(field, now) != community.comparable(field, community.field_value(published, field)):
            changed.append("Changed ✱" if field not in ("status", "last_verified", "rejection_reason") else "")
        else:
            changed.append("")
    frame = pd.DataFrame(
        {
            "Field": [FIELD_LABELS[f] for f in fields],
            "Value": [_cell(_show(f, community.field_value(asset, f), names)) for f in fields],
            "Since it was last on the map": changed,
        }
    )
    st.markdown(f"**Details — version {asset.version}**" + (" (never on the map yet)" if published is None else ""))
    if published is not None and any(changed):
        st.markdown("Rows marked **Changed ✱** differ from the version residents last saw.")
    st.table(frame.style.apply(lambda row: ["background-color: #fff7bf" if row.iloc[2] else "" for _ in row], axis=1))


def _map(asset: community.Asset, lay: common.Layers) -> None:
    geom = asset.geometry
    if geom is None or geom.is_empty:
        st.warning("This asset's location cannot be read, so it is not shown on a map.")
        return
    point = (geom.x, geom.y) if isinstance(geom, shapely.Point) else None
    centre = geom.representative_point()
    st_folium(
        build.build_map(lay.map_data, draw=False, legend=False),
        key=f"moderate-map-{asset.id}",
        height=420,
        use_container_width=True,
        returned_objects=[],
        center=(centre.y, centre.x),
        zoom=16,
        feature_group_to_add=pins.pin_group(point, area=None if point else geom, draggable=False, title=f"Where {asset.name} is"),
    )


def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def _publish(user: Any, asset_id: int, shown: int, name: str) -> None:
    try:
        community.publish(user, asset_id, expected_version=shown)
        _flash("success", f"Published: residents now see {name}.")
    except ChangedMeanwhileError as exc:
        _flash("error", str(exc))
    except OurPatchError as exc:
        _flash("error", str(exc))


def _reject(user: Any, asset_id: int, shown: int) -> None:
    try:
        community.reject(user, asset_id, st.session_state.get(f"reject_reason-{asset_id}", ""), expected_version=shown)
        _flash("success", "Rejected; the group sees your reason.")
    except OurPatchError as exc:
        _flash("error", str(exc))


def _restore(user: Any, asset_id: int, shown: int) -> None:
    version = int(st.session_state.get(f"restore_version-{asset_id}") or 0)
    try:
        community.restore(user, asset_id, version, expected_version=shown)
        _flash("success", f"Version {version} is now the one waiting to be checked; publish it to show it to residents.")
    except OurPatchError as exc:
        _flash("error", str(exc))


def _history(history: list[community.Change]) -> None:
    st.markdown("**Every change**")
    st.table(
        common.safe_table(
            pd.DataFrame(
                {
                    "Version": [h.version for h in history],
                    "What": [_action(h.action) for h in history],
                    "Who": [h.who or "" for h in history],
                    "When": [common.when(h.when) for h in history],
                    "Fields changed": [", ".join(FIELD_LABELS.get(f, f) for f in h.changed) for h in history],
                    "Name then": [h.asset.name or "" for h in history],
                }
            )
        )
    )


def _links_to_check(user: Any, asset: community.Asset, lay: common.Layers) -> None:
    labels = dict(zip(lay.assets["id"].astype(str), lay.assets["name"].fillna("").astype(str), strict=True))
    for n, problem in enumerate(community.link_problems(asset)):
        st.warning(common.md(problem.message))
        if (
            problem.replacement
            and user.role in ("moderator", "admin")
            and st.button(
                f"Use this instead: {labels.get(problem.replacement) or 'the new one'}", key=f"moderate-replace-{n}-{asset.id}"
            )
        ):
            try:
                community.use_replacement(
                    user, asset.id, community.target_id(problem.link), problem.replacement, expected_version=asset.version
                )
                _flash("success", "Link mended; check the new version.")
                st.rerun()
            except OurPatchError as exc:
                st.error(common.md(exc))


def render() -> None:
    st.title("Check what groups have sent")
    user = common.require_role(
        ("moderator", "admin", "planner"), "Moderators and planners sign in to see assets waiting to be checked."
    )
    if user is None:
        return
    for problem in community.published_problems():
        st.warning(
            common.md(
                f"community:{problem.id} “{problem.name}” is published but not shown on the map: "
                f"{problem.reason}. Change or reject it."
            )
        )
    if FLASH in st.session_state:
        kind, text = st.session_state.pop(FLASH)
        (st.success if kind == "success" else st.error)(common.md(text))
    status = st.radio(
        "Show", list(community.STATUSES), horizontal=True, key="moderate_status", format_func=lambda s: STATUS_WORDS[s]
    )
    rows = community.visible_assets(user, status=status)
    if not rows:
        st.info("Nothing here.")
        return
    st.table(
        common.safe_table(
            pd.DataFrame(
                {
                    "Name": [r.name for r in rows],
                    "Group": [r.group_name or "" for r in rows],
                    "Category": [common.category_labels().get(r.category, r.category) for r in rows],
                    "Changed": [common.when(r.updated_at) for r in rows],
                }
            )
        )
    )
    names = {r.id: f"{r.name} — {r.group_name or ''}" for r in rows}
    chosen = int(st.selectbox("Look at", list(names), format_func=lambda i: names[i], key="moderate_pick"))
    try:
        asset = community.asset_for(user, chosen)
        history = community.history(user, chosen)
    except OurPatchError as exc:
        st.error(common.md(exc))
        return
    lay = common.layers()
    on_map = dict(zip(lay.assets["id"].astype(str), lay.assets["name"].fillna("").astype(str), strict=True))
    left, right = st.columns([1, 1])
    with left:
        _details(asset, history, {k: v for k, v in on_map.items() if v})
    with right:
        _map(asset, lay)
    _links_to_check(user, asset, lay)
    _history(history)
    if user.role == "planner":
        st.caption("Planners can see pending assets; moderators publish them.")
        return
    shown = asset.version  # what the buttons below apply to
    c1, c2, c3 = st.columns(3)
    c1.button("Publish", key="do_publish", on_click=_publish, args=(user, chosen, shown, asset.name))
    with c2:
        st.text_input("Reason the group will see", key=f"reject_reason-{chosen}", max_chars=community.MAX_REASON)
        st.button("Reject", key="do_reject", on_click=_reject, args=(user, chosen, shown))
    with c3:
        st.selectbox(
            "Version", [h.version for h in history], key=f"restore_version-{chosen}", format_func=lambda v: f"Version {v}"
        )
        st.button("Restore this version", key="do_restore", on_click=_restore, args=(user, chosen, shown))
    st.caption(
        f"Publish and Reject apply to version {shown}, as shown above. If the group changes it "
        "meanwhile, nothing happens and you see the new version."
    )


render()
