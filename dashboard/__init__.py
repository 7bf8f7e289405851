"""Streamlit dashboards of the pipeline (app.py) and their testable query/number logic."""
