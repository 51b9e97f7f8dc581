"""Our Patch: Streamlit entry point. Page config, logging and the page router; nothing else.

Served as an st.App (Starlette) so our own HTTP routes (sign-in cookies: views/auth_routes.py)
sit beside the pages. `streamlit run app.py` finds `app` below; Streamlit then runs this same
file as the page script for each session (as __main__).
"""

import logging

import streamlit as st

if __name__ != "__main__":  # imported by the server: the ASGI app with our routes
    from views import auth_routes

    app = st.App(__file__, routes=auth_routes.ROUTES)
else:  # run by Streamlit for each session and rerun
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    st.set_page_config(page_title="Our Patch", page_icon=":deciduous_tree:", layout="wide")

    navigation = st.navigation(
        {
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
    )
    navigation.run()
