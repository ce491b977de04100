"""The recross Dagster code location: `dagster dev -m recross_assets.definitions`."""
