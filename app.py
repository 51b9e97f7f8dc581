"""Our Patch: Streamlit entry point. Page config, logging and the page router; nothing else."""

import logging

import streamlit as st

from views import chrome

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Our Patch", page_icon=":deciduous_tree:", layout="wide")

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
# Streamlit's own page list fails axe's list rules: hidden, and listed with plain links instead.
navigation = st.navigation(PAGES, position="hidden")
chrome.sidebar(PAGES)
chrome.styles()
navigation.run()
