-- Category analysis: the 25 biggest (traffic type, category) pairs of the last 30 loaded days
-- (mart_category_analysis: site_category for site traffic, app_category for app traffic).
-- display: table
SELECT traffic_type,
       category,
       sum(impressions) AS impressions,
       sum(clicks) AS clicks,
       sum(conversions) AS conversions,
       sum(cost) AS cost,
       sum(revenue) AS revenue,
       sum(clicks)::numeric / nullif(sum(impressions), 0) AS ctr,
       sum(cost) / nullif(sum(clicks), 0) AS cpc,
       sum(cost) / nullif(sum(conversions), 0) AS cpa,
       sum(revenue) / nullif(sum(cost), 0) AS roas
FROM analytics.mart_category_analysis
WHERE event_day > (SELECT max(event_day) FROM analytics.mart_category_analysis) - 30
GROUP BY traffic_type, category
ORDER BY impressions DESC, traffic_type, category
LIMIT 25
