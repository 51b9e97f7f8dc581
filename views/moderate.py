"""Moderation: publish or reject what groups send, see every change, restore an earlier version."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from layers import community, store
from layers.errors import OurPatchError
from views import common


def render() -> None:
    st.title("Check what groups have sent")
    user = common.require_role(("moderator", "admin", "planner"),
                               "Moderators and planners sign in to see assets waiting to be checked.")
    if user is None:
        return
    for problem in community.published_problems():
        st.warning(common.md(f"community:{problem['id']} “{problem['name']}” is published but not shown on the map: "
                             f"{problem['reason']}. Change or reject it."))
    status = st.radio("Show", list(community.STATUSES), horizontal=True, key="moderate_status",
                      format_func=lambda s: {"pending": "Waiting", "published": "On the map",
                                             "rejected": "Not accepted"}[s])
    rows = community.visible_assets(user, status=status)
    if not rows:
        st.info("Nothing here.")
        return
    st.table(common.safe_table(pd.DataFrame({"Name": [r["name"] for r in rows], "Group": [r["group_name"] or "" for r in rows],
                           "Category": [common.category_labels().get(r["category"], r["category"]) for r in rows],
                           "Changed": [common.human_date(r["updated_at"]) for r in rows]})))
    names = {r["id"]: f"{r['name']} — {r['group_name'] or ''}" for r in rows}
    chosen = int(st.selectbox("Look at", list(names), format_func=lambda i: names[i], key="moderate_pick"))
    asset = store.get_asset(chosen)
    assert asset is not None
    st.markdown("**Details**")
    details = {k: asset.get(k) for k in ("kind", "description", "schedule", "eligibility", "website", "online_url",
                                         "email", "phone", "last_verified", "rejection_reason")}
    details["links"] = "; ".join(f"{community.RELATIONS[link['relation']]} {community.target_id(link)}"
                                 for link in asset["links"])
    details["last_verified"] = common.human_date(details["last_verified"])
    st.table(common.safe_table(pd.DataFrame({"Field": [common.field_words(k) for k in details],
                                             "Value": [str(v or "") for v in details.values()]})))
    history = community.history(chosen)
    st.markdown("**Every change**")
    st.table(common.safe_table(pd.DataFrame({
        "Version": [h["version"] for h in history], "What": [h["action"] for h in history],
        "Who": [h["who"] or "" for h in history], "When": [common.human_date(h["when"]) for h in history],
        "Fields changed": [", ".join(common.field_words(f) for f in h["changed"]) for h in history],
        "Name then": [h["snapshot"].get("name") for h in history]})))
    if user.role == "planner":
        st.caption("Planners can see pending assets; moderators publish them.")
        return
    c1, c2, c3 = st.columns(3)
    try:
        if c1.button("Publish", key="do_publish"):
            community.publish(user, chosen)
            st.success(f"Published: residents now see {common.md(asset['name'])}.")
        with c2:
            reason = st.text_input("Reason the group will see", key="reject_reason", max_chars=500)
            if st.button("Reject", key="do_reject"):
                community.reject(user, chosen, reason)
                st.success("Rejected; the group sees your reason.")
        with c3:
            version = st.selectbox("Version", [h["version"] for h in history], key="restore_version")
            if st.button("Restore this version", key="do_restore"):
                community.restore(user, chosen, int(version))
                st.success(f"Restored version {version}; it waits to be checked again.")
    except OurPatchError as exc:
        st.error(common.md(exc))


render()
