-- V006: realtime.ad_window_metrics_backfill, where a backfill's batch job writes its windows.
--
-- A backfill (include/backfill/) recomputes an hour range behind the stream. Its Flink job upserts
-- here, under its own backfill_id, never into realtime.ad_window_metrics: the live table changes
-- only when the job has finished, in one transaction that deletes the range's windows and inserts
-- these (include/backfill/swap.py). A killed backfill leaves rows here under an id nobody swaps
-- in; the next backfill deletes them.

CREATE TABLE realtime.ad_window_metrics_backfill (
    backfill_id     text          NOT NULL,
    window_size_s   integer       NOT NULL,
    window_start    timestamptz   NOT NULL,
    dimension       text          NOT NULL,
    dimension_value text          NOT NULL,
    impressions     bigint        NOT NULL,
    clicks          bigint        NOT NULL,
    conversions     bigint        NOT NULL,
    cost            numeric(18,6) NOT NULL,
    revenue         numeric(18,6) NOT NULL,
    ctr             numeric(18,6),
    cpc             numeric(18,6),
    cpa             numeric(18,6),
    roas            numeric(18,6),
    window_end      timestamptz   NOT NULL,
    PRIMARY KEY (backfill_id, window_size_s, window_start, dimension, dimension_value)
);

COMMENT ON TABLE realtime.ad_window_metrics_backfill IS
    'Windows of a running backfill, by backfill_id, before they replace their range in realtime.ad_window_metrics.';

GRANT SELECT, INSERT, UPDATE, DELETE ON realtime.ad_window_metrics_backfill TO adevents_realtime_writer;
