"""Sign in: group editors, moderators, planners and admins. Residents need no account."""

from __future__ import annotations

import streamlit as st

from layers import accounts
from layers.errors import OurPatchError
from views import common


def render() -> None:
    st.title("Sign in")
    user = common.signed_in_user()
    if user is not None:
        group = f" for {common.md(user.group)}" if user.group else ""
        st.success(f"Signed in as {common.md(user.name)} ({user.role}{group}).")
        if st.button("Sign out"):
            st.session_state.pop("user_id", None)
            st.rerun()
        return
    st.markdown("Residents can use every map without an account. Community groups, moderators and "
                "council planners sign in here; an administrator gives you your account.")
    with st.form("sign-in"):
        name = st.text_input("Your name", max_chars=64, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=accounts.MAX_PASSWORD,
                                 autocomplete="current-password")
        if st.form_submit_button("Sign in"):
            try:
                found = accounts.authenticate(name, password, source=common.client_source())
            except OurPatchError as exc:
                st.error(common.md(exc))
                return
            if found is None:
                st.error("That name and password do not match an account.")
            else:
                st.session_state["user_id"] = found.id
                st.rerun()


render()
