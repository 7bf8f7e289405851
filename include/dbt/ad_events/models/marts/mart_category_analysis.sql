-- Mart: metrics by pricing category. Grain: one row per (event_day, traffic_type, category).
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

with by_category as (
    select
        event_day,
        traffic_type,
        category,
        count(*) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(cost) as cost,
        sum(revenue) as revenue
    from {{ ref('stg_ad_events') }}
    where {{ day_filter() }}
    group by 1, 2, 3
)

select
    *,
    {{ ad_metrics() }}
from by_category
