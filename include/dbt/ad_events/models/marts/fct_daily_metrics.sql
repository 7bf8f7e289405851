-- Mart: the day's headline metrics (docs/design.md "Metric definitions"). Grain: one row per event_day.
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

with daily as (
    select
        event_day,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(cost) as cost,
        sum(revenue) as revenue,
        count(distinct campaign_id) as campaigns
    from {{ ref('int_hourly_agg') }}
    where {{ day_filter() }}
    group by 1
)

select
    *,
    {{ ad_metrics() }}
from daily
