{#- safe_divide: numerator / denominator as NUMERIC, NULL when the denominator is 0 (every
    ratio metric is NULL, never 0 or an error, on a zero denominator). Only ad_metrics calls it: a
    model computes a ratio through ad_metrics, never directly (tests/dbt/test_metric_contract.py). -#}
{% macro safe_divide(numerator, denominator) -%}
  {{ adapter.dispatch('safe_divide', 'ad_events')(numerator, denominator) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
  ({{ numerator }})::numeric / nullif(({{ denominator }})::numeric, 0)
{%- endmacro %}
