"""Questions asked of the layers: what is inside an area, walk-time areas, what is missing,
search, what residents' locals add up to, and the local a resident makes."""
