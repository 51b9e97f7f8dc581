"""People (admins): who has an account, and adding someone."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from layers.errors import OurPatchError
from layers.groups import accounts
from views import common


def render() -> None:
    st.title("People")
    user = common.require_role(("admin",), "Admins sign in to manage people.")
    if user is None:
        return
    people = accounts.list_people(user)
    st.table(
        common.safe_table(
            pd.DataFrame(
                {
                    "Name": [p.name for p in people],
                    "Role": [p.role for p in people],
                    "Group": [p.group_name or "" for p in people],
                    "Council sign-on e-mail": [p.email or "" for p in people],
                    "Since": [common.when(p.created_at[:10]) for p in people],
                }
            )
        )
    )
    with st.form("add-person", clear_on_submit=True):
        st.subheader("Add a person")
        name = st.text_input("Name", max_chars=64)
        role = st.selectbox("Role", list(accounts.ROLES))
        group = st.text_input("Group (for an editor)", max_chars=64)
        password = st.text_input("First password (tell them to keep it safe)", type="password", max_chars=accounts.MAX_PASSWORD)
        if st.form_submit_button("Add"):
            try:
                added = accounts.add_user_as(user, name, role, password, group=group or None)
                st.success(f"Added {common.md(added.name)} ({added.role}).")
            except OurPatchError as exc:
                st.error(common.md(exc))

    _emails(user, people)


def _emails(user: accounts.User, people: list[accounts.Person]) -> None:
    """Council single sign-on: whoever signs in with this e-mail gets this person's role."""
    with st.form("person-email", clear_on_submit=True):
        st.subheader("Council single sign-on e-mail")
        st.caption(
            "When your council's sign-on is set up, whoever signs in with this e-mail gets this "
            "person's role and group. Leave it empty to remove it."
        )
        names = {p.id: p.name for p in people}
        chosen = st.selectbox("Person", list(names), format_func=lambda i: names[i])
        email = st.text_input("E-mail", max_chars=254)
        if st.form_submit_button("Set e-mail"):
            try:
                accounts.set_email_as(user, int(chosen), email or None)
                st.success(f"Saved the e-mail for {common.md(names[int(chosen)])}.")
            except OurPatchError as exc:
                st.error(common.md(exc))


render()
