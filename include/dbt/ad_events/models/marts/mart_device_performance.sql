-- Mart: metrics by device type. Grain: one row per (event_day, device_type).
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

with by_device as (
    select
        event_day,
        device_type,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(cost) as cost,
        sum(revenue) as revenue
    from {{ ref('int_device_stats') }}
    where {{ day_filter() }}
    group by 1, 2
)

select
    b.*,
    {{ ad_metrics('b.impressions', 'b.clicks', 'b.conversions', 'b.cost', 'b.revenue') }}
from by_device b
join {{ ref('dim_devices') }} d using (device_type)
