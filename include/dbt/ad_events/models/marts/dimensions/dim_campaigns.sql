-- Dimension: every campaign seen in any loaded day. Grain: one row per campaign_id.
select
    campaign_id,
    min(event_day) as first_seen_day,
    max(event_day) as last_seen_day,
    count(distinct event_day) as days_active,
    {{ ad_measures() }}
from {{ ref('int_hourly_agg') }}
group by 1
