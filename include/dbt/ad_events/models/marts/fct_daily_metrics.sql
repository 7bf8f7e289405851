-- Mart: the day's headline metrics (docs/design.md "Metric definitions"). Grain: one row per event_day.
with daily as (
    select
        event_day,
        {{ ad_measures() }},
        count(distinct campaign_id) as campaigns
    from {{ ref('int_hourly_agg') }}
    where {{ day_filter() }}
    group by 1
)

select
    *,
    {{ ad_metrics() }}
from daily
