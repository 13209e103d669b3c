"""``domain.ports.FeatureStore`` on the simulator: the adapter (store.py) over source tables, feature views
and dataset versions, and the guide's generated mortgage data."""
