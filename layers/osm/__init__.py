"""OpenStreetMap in: the extract read into asset layers, the drawn base map and the gazetteer."""
