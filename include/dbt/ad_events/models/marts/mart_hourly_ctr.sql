-- Mart: metrics by UTC hour. Grain: one row per (event_day, event_hour_at).
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

with hourly as (
    select
        event_day,
        event_hour_at,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(cost) as cost,
        sum(revenue) as revenue
    from {{ ref('int_hourly_agg') }}
    where {{ day_filter() }}
    group by 1, 2
)

select
    *,
    {{ ad_metrics() }}
from hourly
