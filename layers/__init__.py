"""Our Patch geodata: OSM layers, community store, area queries. No UI code lives here."""
