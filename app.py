"""Our Patch: Streamlit entry point. Page config, logging and the page router; and, as st.App,
our own HTTP routes (routes/: sign-in cookies, the Open Referral UK API, the health check). Nothing else.

`streamlit run app.py` imports this file and finds `app` (an st.App, Starlette) for the routes;
Streamlit then runs the same file as the page script for each session and rerun.
"""

import logging

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from layers.errors import StorageError
from views import chrome
from views.common import md

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

PAGES = {
    "Everyone": [
        st.Page("views/explore.py", title="Explore the map", icon=":material/map:", default=True),
        st.Page("views/find.py", title="Find a place or service", icon=":material/search:"),
        st.Page("views/compare.py", title="Compare two locals", icon=":material/compare:"),
        st.Page("views/about.py", title="About the data", icon=":material/info:"),
    ],
    "Groups and the council (sign in)": [
        st.Page("views/signin.py", title="Sign in", icon=":material/login:"),
        st.Page("views/group.py", title="Your group", icon=":material/groups:"),
        st.Page("views/moderate.py", title="Moderate", icon=":material/fact_check:"),
        st.Page("views/planners.py", title="Download layers", icon=":material/download:"),
        st.Page("views/people.py", title="People", icon=":material/manage_accounts:"),
    ],
}


def pages() -> None:
    # The emoji itself, not its ":deciduous_tree:" shortcode: looking a shortcode up makes every
    # first visit fetch Streamlit's 258 KB emoji table.
    st.set_page_config(page_title="Our Patch", page_icon="\N{DECIDUOUS TREE}", layout="wide")
    # Streamlit's own page list fails axe's list rules: hidden, and listed with plain links instead.
    navigation = st.navigation(PAGES, position="hidden")
    chrome.sidebar(PAGES)
    chrome.styles()
    try:
        navigation.run()
    except StorageError as exc:  # a read-only folder, a full disk, a damaged database: say which
        logging.getLogger("ourpatch").error("storage fault: %s", exc)
        st.error(md(exc))


if get_script_run_ctx(suppress_warning=True) is not None:  # a script run: the pages
    pages()
else:  # imported by the ASGI server: the pages and our routes
    from routes import auth as auth_routes
    from routes import health as health_routes
    from routes import oruk as oruk_routes

    app = st.App(__file__, routes=[*auth_routes.ROUTES, *oruk_routes.ROUTES, *health_routes.ROUTES])
