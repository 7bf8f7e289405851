"""Fixtures of the dashboard tests (defined in dashboard_support.py, importable by the tests)."""

from dashboard_support import live_seed, seeded_marts, streamlit_server  # noqa: F401
