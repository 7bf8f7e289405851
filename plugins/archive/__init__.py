"""Airflow side of the event archive (include/archive.py): waiting for a day to be complete."""
