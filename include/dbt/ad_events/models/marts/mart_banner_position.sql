-- Mart: metrics by banner position. Grain: one row per (event_day, banner_pos).
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

with by_position as (
    select
        event_day,
        banner_pos,
        count(*) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(cost) as cost,
        sum(revenue) as revenue
    from {{ ref('stg_ad_events') }}
    where {{ day_filter() }}
    group by 1, 2
)

select
    *,
    {{ ad_metrics() }}
from by_position
