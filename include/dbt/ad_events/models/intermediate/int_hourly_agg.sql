-- Intermediate: the day's events rolled up once, so the marts never rescan millions of events.
-- Grain: one row per (event_day, event_hour_at, campaign_id, traffic_type).
select
    event_day,
    event_hour_at,
    campaign_id,
    traffic_type,
    {{ ad_measures(events=true) }},
    count(distinct creative_id) as creatives
from {{ ref('stg_ad_events') }}
where {{ day_filter() }}
group by 1, 2, 3, 4
