-- Mart: daily click-through rate. Grain: one row per event_day.
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

select
    event_day,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    {{ safe_divide('sum(clicks)', 'sum(impressions)') }} as ctr
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
