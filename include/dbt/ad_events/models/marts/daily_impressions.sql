-- Mart: the day's impressions by traffic type. Grain: one row per event_day.
select
    event_day,
    {{ ad_measures(only=['impressions']) }},
    {{ traffic_type_split('impressions') }},
    count(distinct campaign_id) as campaigns
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
