-- V003: the daily batch's landing table, analytics.ad_events, and its load ledger.
--
-- analytics.ad_events holds the validated events of every loaded day, one PARTITION per day
-- (RANGE on event_day). The daily ETL (include/batch/load.py) creates, replaces and attaches the
-- partitions itself: a rerun of day D builds a fresh partition, COPYs the day into it and swaps
-- it in, all in one transaction, so readers see either the old day or the new day, never a mix.
--
-- ATTACH/DETACH PARTITION needs ownership of the parent, so both tables belong to the group role
-- adevents_analytics_builder (the dbt login works as that role); the migration owner is a member
-- of it (V001), which is what lets it hand the tables over.
--
-- There is deliberately no primary key on ad_events: uniqueness of event_id within a day is
-- checked by the great-expectations gate before anything is loaded (docs/batch.md), and a
-- 4M-row unique index build would cost a third of the one-minute budget of a daily load.

CREATE TABLE IF NOT EXISTS analytics.ad_events (
    event_day            date          NOT NULL,  -- UTC day of event_time: the partition key
    event_id             text          NOT NULL,  -- Avazu id, unsigned 64-bit in decimal (> BIGINT)
    event_time           timestamptz   NOT NULL,
    hour                 text          NOT NULL,  -- Avazu hour YYMMDDHH (UTC)
    click                smallint      NOT NULL,
    conversion           smallint      NOT NULL,
    cost                 numeric(18,6) NOT NULL,
    revenue              numeric(18,6) NOT NULL,
    campaign_id          text          NOT NULL,  -- Avazu C17
    creative_id          text          NOT NULL,  -- Avazu C14
    c1                   integer,
    banner_pos           integer,
    site_id              text,
    site_domain          text,
    site_category        text,
    app_id               text,
    app_domain           text,
    app_category         text,
    device_id            text,
    device_ip            text,
    device_model         text,
    device_type          integer,
    device_conn_type     integer,
    c14                  integer,
    c15                  integer,
    c16                  integer,
    c17                  integer,
    c18                  integer,
    c19                  integer,
    c20                  integer,
    c21                  integer,
    price_model_version  text,
    source               text          NOT NULL
) PARTITION BY RANGE (event_day);

COMMENT ON TABLE analytics.ad_events IS
  'Validated ad events of each loaded day (daily ETL); one partition per UTC day, replaced wholesale on rerun.';

-- One row per loaded day: what the partition holds and where it came from. dbt reads it as a
-- source (freshness), the ETL's summary reads it, and a rerun overwrites the day's row in the same
-- transaction as the partition swap.
CREATE TABLE IF NOT EXISTS analytics.ad_events_loads (
    event_day      date        PRIMARY KEY,
    row_count      bigint      NOT NULL,
    clicks         bigint      NOT NULL,
    source         text        NOT NULL,  -- avazu | archive
    source_uri     text        NOT NULL,  -- the Avazu file or the archive directory
    parquet_path   text        NOT NULL,
    content_hash   text        NOT NULL,  -- order-independent hash of the day's event ids
    run_id         text,
    loaded_at      timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE analytics.ad_events_loads IS
  'Load ledger of analytics.ad_events: one row per loaded day (rerun replaces it).';

ALTER TABLE analytics.ad_events OWNER TO adevents_analytics_builder;
ALTER TABLE analytics.ad_events_loads OWNER TO adevents_analytics_builder;
GRANT SELECT ON analytics.ad_events, analytics.ad_events_loads TO adevents_dashboard_reader;
