-- Mart: metrics by banner position. Grain: one row per (event_day, banner_pos).
with by_position as (
    select
        event_day,
        banner_pos,
        {{ ad_measures(events=true) }}
    from {{ ref('stg_ad_events') }}
    where {{ day_filter() }}
    group by 1, 2
)

select
    *,
    {{ ad_metrics() }}
from by_position
