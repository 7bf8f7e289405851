-- Device performance: each device type's days of the last 30 loaded days (mart_device_performance).
-- One row per day and device type, the mart's grain: its ratios are read, not recomputed.
-- display: line; x: event_day, device_type; y: ctr
SELECT event_day, device_type, impressions, clicks, conversions, cost, revenue, ctr, cpc, cpa, roas
FROM analytics.mart_device_performance
WHERE event_day > (SELECT max(event_day) FROM analytics.mart_device_performance) - 30
ORDER BY event_day, device_type
