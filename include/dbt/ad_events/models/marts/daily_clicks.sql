-- Mart: the day's clicks and conversions by traffic type. Grain: one row per event_day.
select
    event_day,
    {{ ad_measures(only=['clicks']) }},
    {{ traffic_type_split('clicks') }},
    {{ ad_measures(only=['conversions']) }},
    {{ ad_measures(only=['impressions']) }},
    {{ ad_metrics(impressions='sum(impressions)', clicks='sum(clicks)', only=['ctr']) }}
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
