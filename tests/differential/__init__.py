"""Differential proof of the AFY204 rewrites (see harness.py)."""
