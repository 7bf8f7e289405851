-- Dimension: every campaign seen in any loaded day. Grain: one row per campaign_id.
select
    campaign_id,
    min(event_day) as first_seen_day,
    max(event_day) as last_seen_day,
    count(distinct event_day) as days_active,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    sum(conversions) as conversions,
    sum(cost) as cost,
    sum(revenue) as revenue
from {{ ref('int_hourly_agg') }}
group by 1
