-- Dimension: every device type seen in any loaded day. Grain: one row per device_type.
select
    device_type,
    min(event_day) as first_seen_day,
    max(event_day) as last_seen_day,
    count(distinct device_conn_type) as connection_types,
    {{ ad_measures() }}
from {{ ref('int_device_stats') }}
group by 1
