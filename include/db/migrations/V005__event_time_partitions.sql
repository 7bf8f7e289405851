-- V005: partitions follow event time, and their upkeep is visible.
--
-- realtime.ad_window_metrics is partitioned by UTC day of window_start. Replays bring event times
-- of any date (Avazu is 2014), so partitions are created for the days that arrive, not for the
-- wall clock: the replay creates them before it publishes (include/db/partitions.py) and
-- dag_partition_maintenance keeps them ahead of the stream's watermark. The DEFAULT partition only
-- catches what slipped through; the maintenance moves such rows out and alerts.

COMMENT ON TABLE realtime.ad_window_metrics IS
    'Flink ad_window_metrics job: 1m/5m tumbling windows per dimension (docs/design.md "Table grains"); upserted.';

-- The DEFAULT partition of each of the pipeline's time-partitioned tables with its row count (0 is
-- the healthy value). Private copies made by tests and benchmarks are not the pipeline's tables.
-- SECURITY DEFINER: the read-only dashboard login (and its exporter) may count, not read, them.
CREATE FUNCTION realtime.default_partition_rows()
RETURNS TABLE (parent_table text, default_partition text, row_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT i.inhparent::regclass AS parent, c.oid::regclass AS child
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent IN (to_regclass('realtime.ad_window_metrics'), to_regclass('analytics.ad_events'))
          AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
        ORDER BY 1, 2
    LOOP
        parent_table := r.parent::text;
        default_partition := r.child::text;
        EXECUTE format('SELECT count(*) FROM %s', r.child) INTO row_count;
        RETURN NEXT;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION realtime.default_partition_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime.default_partition_rows() TO adevents_dashboard_reader, adevents_realtime_writer;

-- Retention: drops the daily partitions <table>_pYYYYMMDD of days before p_before. Returns the
-- dropped tables' names. Days are event-time days, so a 2014 replay is not dropped for being old
-- by the wall clock: the caller decides p_before from the newest data (include/db/partitions.py).
CREATE FUNCTION realtime.drop_daily_partitions_before(
    p_before date,
    p_table  regclass DEFAULT 'realtime.ad_window_metrics'
) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.oid::regclass::text AS child
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = p_table
          AND c.relname ~ '_p[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < p_before
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %s', r.child);
        RETURN NEXT r.child;
    END LOOP;
END
$$;
