"""Turning layers into a Leaflet map (folium). No Streamlit here."""
