-- A repeated event id within a UTC day is dead-lettered as `duplicate` (include/ingest/duplicates.py);
-- the DLQ retry stores such letters at once, so the table must accept the type.
ALTER TABLE errors.dlq_errors DROP CONSTRAINT dlq_errors_error_type_check;
ALTER TABLE errors.dlq_errors ADD CONSTRAINT dlq_errors_error_type_check
    CHECK (error_type IN ('parsing', 'schema', 'duplicate', 'flink_logic', 'late_event', 'sink'));
