-- Mart: each campaign's day. Grain: one row per (event_day, campaign_id).
{{ config(materialized='incremental', unique_key='event_day', incremental_strategy='delete+insert') }}

with by_campaign as (
    select
        event_day,
        campaign_id,
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
    c.*,
    {{ ad_metrics('c.impressions', 'c.clicks', 'c.conversions', 'c.cost', 'c.revenue') }},
    d.first_seen_day
from by_campaign c
join {{ ref('dim_campaigns') }} d using (campaign_id)
