-- Mart: metrics by pricing category. Grain: one row per (event_day, traffic_type, category).
with by_category as (
    select
        event_day,
        traffic_type,
        category,
        {{ ad_measures(events=true) }}
    from {{ ref('stg_ad_events') }}
    where {{ day_filter() }}
    group by 1, 2, 3
)

select
    *,
    {{ ad_metrics() }}
from by_category
