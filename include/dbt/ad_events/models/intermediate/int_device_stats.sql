-- Intermediate: the day's events by device type and connection type.
-- Grain: one row per (event_day, device_type, device_conn_type).
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

select
    event_day,
    device_type,
    device_conn_type,
    count(*) as impressions,
    sum(clicks) as clicks,
    sum(conversions) as conversions,
    sum(cost) as cost,
    sum(revenue) as revenue,
    count(distinct device_model) as device_models
from {{ ref('stg_ad_events') }}
where {{ day_filter() }}
group by 1, 2, 3
