{#- safe_divide: numerator / denominator as NUMERIC, NULL when the denominator is 0 (every
    ratio metric is NULL, never 0 or an error, on a zero denominator). -#}
{% macro safe_divide(numerator, denominator) -%}
  {{ adapter.dispatch('safe_divide', 'ad_events')(numerator, denominator) }}
{%- endmacro %}

{% macro default__safe_divide(numerator, denominator) -%}
  ({{ numerator }})::numeric / nullif(({{ denominator }})::numeric, 0)
{%- endmacro %}
