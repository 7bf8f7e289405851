-- Banner position: each Avazu banner position's days of the last 30 loaded days (mart_banner_position).
-- One row per day and banner position, the mart's grain: its ratios are read, not recomputed.
-- display: line; x: event_day, banner_pos; y: ctr
SELECT event_day, banner_pos, impressions, clicks, conversions, cost, revenue, ctr, cpc, cpa, roas
FROM analytics.mart_banner_position
WHERE event_day > (SELECT max(event_day) FROM analytics.mart_banner_position) - 30
ORDER BY event_day, banner_pos
