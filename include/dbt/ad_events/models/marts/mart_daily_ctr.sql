-- Mart: daily click-through rate. Grain: one row per event_day.
select
    event_day,
    {{ ad_measures(only=['impressions', 'clicks']) }},
    {{ ad_metrics(impressions='sum(impressions)', clicks='sum(clicks)', only=['ctr']) }}
from {{ ref('int_hourly_agg') }}
where {{ day_filter() }}
group by 1
