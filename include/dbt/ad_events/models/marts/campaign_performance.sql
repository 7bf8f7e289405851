-- Mart: each campaign's day. Grain: one row per (event_day, campaign_id).
with by_campaign as (
    select
        event_day,
        campaign_id,
        {{ ad_measures() }}
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
