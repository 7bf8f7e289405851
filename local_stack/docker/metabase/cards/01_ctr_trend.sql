-- CTR trend: daily impressions, clicks and CTR of the last 30 loaded days (mart_daily_ctr).
-- CTR is the mart's own column (clicks / impressions of the day, docs/design.md "Metric definitions").
-- display: line; x: event_day; y: ctr
SELECT event_day, impressions, clicks, ctr
FROM analytics.mart_daily_ctr
WHERE event_day > (SELECT max(event_day) FROM analytics.mart_daily_ctr) - 30
ORDER BY event_day
