-- Intermediate: the day's events by device type and connection type.
-- Grain: one row per (event_day, device_type, device_conn_type).
select
    event_day,
    device_type,
    device_conn_type,
    {{ ad_measures(events=true) }},
    count(distinct device_model) as device_models
from {{ ref('stg_ad_events') }}
where {{ day_filter() }}
group by 1, 2, 3
