"""Machine-readable ways in: Open311 GeoReport v2 (open311.py, open311.yaml)."""
