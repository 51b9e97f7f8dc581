"""Layers out to other tools: GeoJSON, planners' GIS formats, coordinate systems and Open Referral UK."""
