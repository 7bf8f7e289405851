-- Mart: metrics by device type. Grain: one row per (event_day, device_type).
with by_device as (
    select
        event_day,
        device_type,
        {{ ad_measures() }}
    from {{ ref('int_device_stats') }}
    where {{ day_filter() }}
    group by 1, 2
)

select
    b.*,
    {{ ad_metrics('b.impressions', 'b.clicks', 'b.conversions', 'b.cost', 'b.revenue') }}
from by_device b
join {{ ref('dim_devices') }} d using (device_type)
