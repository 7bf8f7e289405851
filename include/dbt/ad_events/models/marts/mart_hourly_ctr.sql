-- Mart: metrics by UTC hour. Grain: one row per (event_day, event_hour_at).
with hourly as (
    select
        event_day,
        event_hour_at,
        {{ ad_measures() }}
    from {{ ref('int_hourly_agg') }}
    where {{ day_filter() }}
    group by 1, 2
)

select
    *,
    {{ ad_metrics() }}
from hourly
