{#- ad_metrics: the metric columns (docs/design.md "Metric definitions") from summed counts and money, one definition for every
    mart (ctr, cpc, cpa, roas; each NULL when its denominator is 0). -#}
{% macro ad_metrics(impressions='impressions', clicks='clicks', conversions='conversions', cost='cost', revenue='revenue') -%}
  {{ adapter.dispatch('ad_metrics', 'ad_events')(impressions, clicks, conversions, cost, revenue) }}
{%- endmacro %}

{% macro default__ad_metrics(impressions, clicks, conversions, cost, revenue) -%}
  {{ safe_divide(clicks, impressions) }} as ctr,
  {{ safe_divide(cost, clicks) }} as cpc,
  {{ safe_divide(cost, conversions) }} as cpa,
  {{ safe_divide(revenue, cost) }} as roas
{%- endmacro %}
