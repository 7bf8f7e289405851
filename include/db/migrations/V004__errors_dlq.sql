-- V004: the DLQ retry's permanent error store and its attempt log (dead-letter contract: docs/design.md, docs/dlq.md).
--
-- A dead letter is identified by where it sits in the DLQ topic: (dlq_topic, dlq_partition,
-- dlq_offset). Every attempt of the retry (dag_dlq_retry, include/dlq) is one row of
-- errors.retry_history, unique per (coordinates, attempt); a dead letter that fails its last
-- attempt, or whose error type cannot be retried, is one row of errors.dlq_errors, unique per
-- coordinates. The retry writes both with INSERT ... ON CONFLICT DO NOTHING before it commits its
-- Kafka offsets, so a run killed midway and rerun writes nothing twice.
--
-- The dead-letter record's fields keep their names except the original coordinates carried inside the DLQ
-- record (`topic`, `partition`, `offset`: where the event was bound or read), stored as
-- source_topic / source_partition / source_offset next to the DLQ record's own coordinates.
-- Volume is small (a fraction of a percent of events), so the tables are not partitioned; both
-- are indexed by time for retention (DELETE ... WHERE failed_at < ..., run by the owner).

CREATE TABLE errors.dlq_errors (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dlq_topic           text        NOT NULL,
    dlq_partition       integer     NOT NULL,
    dlq_offset          bigint      NOT NULL,
    event_id            text,                   -- Avazu id as text (exceeds BIGINT); NULL when unknown
    raw_payload         text        NOT NULL,   -- the original bytes as text
    error_type          text        NOT NULL    -- the dead letter's own error type
        CHECK (error_type IN ('parsing', 'schema', 'flink_logic', 'late_event', 'sink')),
    error_message       text        NOT NULL,
    stacktrace          text,
    retry_count         integer     NOT NULL CHECK (retry_count >= 0),  -- attempts made by the retry
    error_timestamp     timestamptz,            -- when the error first happened (the DLQ record's)
    source              text        NOT NULL,   -- producer | flink | dlq_retry
    source_topic        text,
    source_partition    integer,
    source_offset       bigint,
    final_error_type    text        NOT NULL,   -- the error of the last attempt (after repairs)
    final_error_message text        NOT NULL,
    reason              text        NOT NULL CHECK (reason IN ('attempts_exhausted', 'non_retryable')),
    run_id              text,                   -- the retry run that gave up
    failed_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dlq_errors_coordinates UNIQUE (dlq_topic, dlq_partition, dlq_offset)
);

COMMENT ON TABLE errors.dlq_errors IS
    'Dead letters the DLQ retry gave up on: one row per DLQ record (coordinates unique); see docs/dlq.md.';

CREATE INDEX dlq_errors_failed_at ON errors.dlq_errors (failed_at);
CREATE INDEX dlq_errors_event_id ON errors.dlq_errors (event_id) WHERE event_id IS NOT NULL;

CREATE TABLE errors.retry_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dlq_topic       text        NOT NULL,
    dlq_partition   integer     NOT NULL,
    dlq_offset      bigint      NOT NULL,
    attempt         integer     NOT NULL CHECK (attempt >= 1),
    event_id        text,
    outcome         text        NOT NULL CHECK (outcome IN ('republished', 'failed', 'gave_up', 'non_retryable')),
    error_type      text,                   -- NULL when republished
    error_message   text,
    repairs         text[]      NOT NULL DEFAULT '{}',  -- repair rules that changed the payload
    republished_to  text,                   -- topic:partition of the republished event
    run_id          text,
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT retry_history_attempt UNIQUE (dlq_topic, dlq_partition, dlq_offset, attempt)
);

COMMENT ON TABLE errors.retry_history IS
    'Every attempt of the DLQ retry: one row per (DLQ record coordinates, attempt); see docs/dlq.md.';

CREATE INDEX retry_history_attempted_at ON errors.retry_history (attempted_at);
CREATE INDEX retry_history_event_id ON errors.retry_history (event_id) WHERE event_id IS NOT NULL;

-- Least privilege. V001's default privileges already gave the groups access to new tables in
-- `errors`; these statements state the intent explicitly. Both tables are append-only logs: the
-- stream writer group (whose login the DLQ retry DAG uses: pipeline_db_stream_writer) may read and
-- insert, not rewrite history; retention is the owner's job. dbt and dashboards read.
REVOKE ALL ON errors.dlq_errors, errors.retry_history FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON errors.dlq_errors, errors.retry_history FROM adevents_realtime_writer;
GRANT SELECT, INSERT ON errors.dlq_errors, errors.retry_history TO adevents_realtime_writer;
GRANT SELECT ON errors.dlq_errors, errors.retry_history TO adevents_analytics_builder, adevents_dashboard_reader;
