"""Sign in: group editors, moderators, planners and admins. Residents need no account.

A password sign-in starts a session kept in the store; the browser gets only an opaque id in an
HttpOnly cookie (routes/auth.py), so a reload or a new tab stays signed in for up to
8 hours idle. Councils may add single sign-on (OpenID Connect) with `[auth]` in
.streamlit/secrets.toml: whoever signs in that way gets the role an admin gave their e-mail.
"""

from __future__ import annotations

import streamlit as st

from layers.errors import OurPatchError
from layers.groups import accounts, sessions
from views import common

_COOKIE_SCRIPT = """<script>
fetch(window.location.origin + "/auth/session%s", {method: "POST", credentials: "same-origin", keepalive: true,
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(%s)});
</script>"""


def _browser(path: str, body: str) -> None:
    """Ask the browser to call one of our routes (to receive or drop the session cookie)."""
    st.html(_COOKIE_SCRIPT % (path, body), unsafe_allow_javascript=True)


def _single_sign_on_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file, or one that cannot be read (StreamlitSecretNotFoundError)
        return False


def _sign_out(user: accounts.User, *, everywhere: bool) -> None:
    session_id = st.session_state.get("session_id")
    if everywhere:
        sessions.end_everywhere(user.id)
    elif session_id is not None:
        sessions.end(int(session_id))
    sessions.end_token(st.context.cookies.get(sessions.COOKIE_NAME))
    single_sign_on = _single_sign_on_configured() and st.user.is_logged_in
    common.forget_person()
    st.session_state["signed_out"] = True  # this tab's old cookie no longer counts
    st.session_state["drop_cookie"] = True
    if single_sign_on:
        st.logout()  # Streamlit's identity cookie goes, and the provider is asked to sign out too
        return
    st.rerun()


def render() -> None:
    st.title("Sign in")
    if st.session_state.pop("drop_cookie", False):
        _browser("/end", "{}")
    code = st.session_state.pop("cookie_code", None)
    if code:
        _browser("", '{"code": "%s"}' % code)  # a url-safe token: no quoting needed  # noqa: UP031
    user = common.signed_in_user()
    if user is not None:
        group = f" for {common.md(user.group)}" if user.group else ""
        st.success(f"Signed in as {common.md(user.name)} ({user.role}{group}).")
        c1, c2 = st.columns(2)
        if c1.button("Sign out"):
            _sign_out(user, everywhere=False)
        if c2.button("End my sign-in on every device", help="Signs you out on every browser and device"):
            _sign_out(user, everywhere=True)
        return
    if st.session_state.get("signed_out"):
        st.info("You are signed out.")
    st.markdown(
        "Residents can use every map without an account. Community groups, moderators and "
        "council planners sign in here; an administrator gives you your account."
    )
    if _single_sign_on_configured():
        try:
            if st.user.is_logged_in:
                st.warning(
                    f"{common.md(st.user.get('email') or 'Your council account')} has no role here yet: "
                    "ask an administrator to add your e-mail."
                )
        except (AttributeError, KeyError):
            pass
        st.button("Use your council account (single sign-on)", on_click=st.login, type="primary")
    with st.form("sign-in"):
        name = st.text_input("Your name", max_chars=64, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=accounts.MAX_PASSWORD, autocomplete="current-password")
        if st.form_submit_button("Sign in"):
            try:
                found = accounts.authenticate(name, password, source=common.client_source())
            except OurPatchError as exc:
                st.error(common.md(exc))
                return
            if found is None:
                st.error("That name and password do not match an account.")
            else:
                common.forget_person()  # nothing of whoever used this browser before
                session_id, code = sessions.start(found)
                st.session_state.update({"user_id": found.id, "session_id": session_id, "cookie_code": code})
                st.rerun()


render()
