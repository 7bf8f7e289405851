-- Category analysis: the 25 biggest (traffic type, category) pairs of the last 30 loaded days
-- (mart_category_analysis: site_category for site traffic, app_category for app traffic).
-- No mart has this grain, so the 30 days are summed here and each ratio is a ratio of those sums,
-- never an average of daily ratios (docs/design.md "Metric definitions": ctr = clicks / impressions,
-- cpc = cost / clicks, cpa = cost / conversions, roas = revenue / cost; NULL on a zero denominator).
-- display: table
WITH pairs AS (
    SELECT traffic_type, category, sum(impressions) AS impressions, sum(clicks) AS clicks,
           sum(conversions) AS conversions, sum(cost) AS cost, sum(revenue) AS revenue
    FROM analytics.mart_category_analysis
    WHERE event_day > (SELECT max(event_day) FROM analytics.mart_category_analysis) - 30
    GROUP BY traffic_type, category
)
SELECT *,
       clicks::numeric / nullif(impressions, 0) AS ctr,
       cost / nullif(clicks, 0) AS cpc,
       cost / nullif(conversions, 0) AS cpa,
       revenue / nullif(cost, 0) AS roas
FROM pairs
ORDER BY impressions DESC, traffic_type, category
LIMIT 25
