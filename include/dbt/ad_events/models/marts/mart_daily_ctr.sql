-- Mart: daily click-through rate. Grain: one row per event_day.
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

select
    event_day,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    {{ ad_metrics(impressions='sum(impressions)', clicks='sum(clicks)', only=['ctr']) }}
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
