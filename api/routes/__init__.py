"""Blueprints of the API, one per resource."""
