-- V002: realtime.ad_window_metrics, the Flink job's 1-minute and 5-minute window metrics.
--
-- Written only by upserts on the primary key (Flink's JDBC sink: INSERT ... ON CONFLICT DO UPDATE),
-- so a replay or a restart rewrites a window instead of adding to it. Partitioned by day on
-- window_start (the key includes it, which ON CONFLICT on a partitioned table requires).
-- Partitions: realtime.ensure_daily_partitions(from, to) creates the missing days (the deploy DAG
-- calls it for yesterday .. +7 days; rows of other days, e.g. a 2014 Avazu replay, land in the
-- DEFAULT partition and move into their day's partition when it is created). In production,
-- pg_partman (Debian: postgresql-15-partman) does the same maintenance plus retention:
-- SELECT partman.create_parent('realtime.ad_window_metrics', 'window_start', '1 day');

CREATE TABLE realtime.ad_window_metrics (
    window_size_s   integer       NOT NULL CHECK (window_size_s IN (60, 300)),
    window_start    timestamptz   NOT NULL,
    dimension       text          NOT NULL
        CHECK (dimension IN ('all', 'campaign', 'device_type', 'site_category', 'app_category', 'banner_pos')),
    dimension_value text          NOT NULL,
    impressions     bigint        NOT NULL,
    clicks          bigint        NOT NULL,
    conversions     bigint        NOT NULL,
    cost            numeric(18,6) NOT NULL,
    revenue         numeric(18,6) NOT NULL,
    ctr             numeric(18,6),  -- clicks / impressions, NULL when impressions = 0
    cpc             numeric(18,6),  -- cost / clicks, NULL when clicks = 0
    cpa             numeric(18,6),  -- cost / conversions, NULL when conversions = 0
    roas            numeric(18,6),  -- revenue / cost, NULL when cost = 0
    window_end      timestamptz   NOT NULL,
    updated_at      timestamptz   NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (window_size_s, window_start, dimension, dimension_value)
) PARTITION BY RANGE (window_start);

COMMENT ON TABLE realtime.ad_window_metrics IS
    'Flink ad_window_metrics job: 1m/5m tumbling windows per dimension (docs/design.md "Table grains"); upserted.';
COMMENT ON COLUMN realtime.ad_window_metrics.updated_at IS
    'When PostgreSQL last wrote the row (trigger): the window result latency is updated_at - window_end - watermark delay.';

CREATE TABLE realtime.ad_window_metrics_default PARTITION OF realtime.ad_window_metrics DEFAULT;

-- The dashboards read the newest windows of one size and dimension.
CREATE INDEX ad_window_metrics_recent ON realtime.ad_window_metrics (window_size_s, dimension, window_start DESC);

-- updated_at is the database's clock on every insert and update: the sink does not send it.
CREATE FUNCTION realtime.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER ad_window_metrics_touch BEFORE INSERT OR UPDATE ON realtime.ad_window_metrics
    FOR EACH ROW EXECUTE FUNCTION realtime.touch_updated_at();

-- Creates the daily partitions [p_from, p_to] of a table partitioned by RANGE on a timestamptz
-- (UTC days), named <table>_pYYYYMMDD. Rows of such a day already in the DEFAULT partition are
-- moved into the new partition in the same transaction (the DEFAULT partition is locked meanwhile,
-- so a concurrent writer waits rather than failing). Idempotent; returns how many it created.
CREATE FUNCTION realtime.ensure_daily_partitions(
    p_from  date,
    p_to    date,
    p_table regclass DEFAULT 'realtime.ad_window_metrics'
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_schema  text;
    v_name    text;
    v_default regclass;
    v_key     text;
    v_day     date;
    v_part    text;
    v_lo      timestamptz;
    v_hi      timestamptz;
    v_created integer := 0;
BEGIN
    IF p_to < p_from THEN
        RAISE EXCEPTION 'ensure_daily_partitions: p_to (%) is before p_from (%)', p_to, p_from;
    END IF;
    SELECT n.nspname, c.relname INTO v_schema, v_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = p_table AND c.relkind = 'p';
    IF v_name IS NULL THEN
        RAISE EXCEPTION 'ensure_daily_partitions: % is not a partitioned table', p_table;
    END IF;
    SELECT a.attname INTO v_key
    FROM pg_partitioned_table pt
    JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
    WHERE pt.partrelid = p_table;
    SELECT i.inhrelid::regclass INTO v_default
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = p_table AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';

    v_day := p_from;
    WHILE v_day <= p_to LOOP
        v_part := format('%s_p%s', v_name, to_char(v_day, 'YYYYMMDD'));
        IF to_regclass(format('%I.%I', v_schema, v_part)) IS NULL THEN
            v_lo := v_day::timestamp AT TIME ZONE 'UTC';
            v_hi := (v_day + 1)::timestamp AT TIME ZONE 'UTC';
            EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           v_schema, v_part, p_table);
            IF v_default IS NOT NULL THEN
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', v_default);
                EXECUTE format(
                    'WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *) '
                    'INSERT INTO %I.%I SELECT * FROM moved', v_default, v_key, v_key, v_schema, v_part)
                USING v_lo, v_hi;
            END IF;
            EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                           p_table, v_schema, v_part, v_lo, v_hi);
            v_created := v_created + 1;
        END IF;
        v_day := v_day + 1;
    END LOOP;
    RETURN v_created;
END
$$;

COMMENT ON FUNCTION realtime.ensure_daily_partitions(date, date, regclass) IS
    'Create missing UTC-day partitions [p_from, p_to] (moving matching rows out of DEFAULT). pg_partman is the production alternative.';

SELECT realtime.ensure_daily_partitions(current_date - 1, current_date + 7);
