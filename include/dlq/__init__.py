"""The dead-letter retry: repair rules, backoff policy, the drain loop and the DLQ rate alert.

No Airflow imports: ``dags/dag_dlq_retry.py`` and ``dags/dag_dlq_alert.py`` call into these modules,
and so do the tests and ``python -m include.dlq.drain``. Design and operations: docs/dlq.md.
"""
