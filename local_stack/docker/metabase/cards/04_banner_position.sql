-- Banner position: the last 30 loaded days by Avazu banner position (mart_banner_position).
-- display: bar; x: banner_pos; y: ctr
SELECT banner_pos,
       sum(impressions) AS impressions,
       sum(clicks) AS clicks,
       sum(conversions) AS conversions,
       sum(cost) AS cost,
       sum(revenue) AS revenue,
       sum(clicks)::numeric / nullif(sum(impressions), 0) AS ctr,
       sum(cost) / nullif(sum(clicks), 0) AS cpc,
       sum(cost) / nullif(sum(conversions), 0) AS cpa,
       sum(revenue) / nullif(sum(cost), 0) AS roas
FROM analytics.mart_banner_position
WHERE event_day > (SELECT max(event_day) FROM analytics.mart_banner_position) - 30
GROUP BY banner_pos
ORDER BY banner_pos
