"""Reusable test helpers (schema validation, geometry checks)."""
