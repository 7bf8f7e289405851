-- Device performance: the last 30 loaded days by device type (mart_device_performance), ratios
-- recomputed from the sums (docs/design.md "Metric definitions": ctr = clicks / impressions, cpc = cost / clicks,
-- cpa = cost / conversions, roas = revenue / cost; NULL on a zero denominator).
-- display: bar; x: device_type; y: impressions, ctr
SELECT device_type,
       sum(impressions) AS impressions,
       sum(clicks) AS clicks,
       sum(conversions) AS conversions,
       sum(cost) AS cost,
       sum(revenue) AS revenue,
       sum(clicks)::numeric / nullif(sum(impressions), 0) AS ctr,
       sum(cost) / nullif(sum(clicks), 0) AS cpc,
       sum(cost) / nullif(sum(conversions), 0) AS cpa,
       sum(revenue) / nullif(sum(cost), 0) AS roas
FROM analytics.mart_device_performance
WHERE event_day > (SELECT max(event_day) FROM analytics.mart_device_performance) - 30
GROUP BY device_type
ORDER BY impressions DESC, device_type
