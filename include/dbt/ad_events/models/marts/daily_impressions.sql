-- Mart: the day's impressions by traffic type. Grain: one row per event_day.
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

select
    event_day,
    sum(impressions) as impressions,
    sum(impressions) filter (where traffic_type = 'site') as site_impressions,
    sum(impressions) filter (where traffic_type = 'app') as app_impressions,
    count(distinct campaign_id) as campaigns
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
