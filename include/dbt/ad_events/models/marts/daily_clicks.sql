-- Mart: the day's clicks and conversions by traffic type. Grain: one row per event_day.
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

select
    event_day,
    sum(clicks) as clicks,
    sum(clicks) filter (where traffic_type = 'site') as site_clicks,
    sum(clicks) filter (where traffic_type = 'app') as app_clicks,
    sum(conversions) as conversions,
    sum(impressions) as impressions,
    {{ ad_metrics(impressions='sum(impressions)', clicks='sum(clicks)', only=['ctr']) }}
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
