{#- ad_measures: the additive measures a model sums, the one place their list is written (docs/design.md
    "Metric definitions"; the list is include/metrics_contract.py MEASURES, and
    tests/dbt/test_metric_contract.py holds this macro to it). A ratio is never summed: it is taken
    from these sums afterwards, through ad_metrics.

    Arguments: `events`, true when each input row is one event (stg_ad_events), so impressions is
    count(*) and the other measures are sums of the event's 0/1 flags and money; otherwise the input
    is already aggregated and every measure is the sum of its column. `only`, the measures to keep
    (default: all of them, in contract order). -#}
{% macro ad_measures(events=false, only=none) -%}
  {{ adapter.dispatch('ad_measures', 'ad_events')(events, only) }}
{%- endmacro %}

{% macro default__ad_measures(events, only) -%}
  {#- as in include/metrics_contract.py MEASURES -#}
  {%- set names = ['impressions', 'clicks', 'conversions', 'cost', 'revenue'] -%}
  {%- for name in only or [] if name not in names -%}
    {{ exceptions.raise_compiler_error("ad_measures: unknown measure " ~ name ~ " (known: " ~ names | join(", ") ~ ")") }}
  {%- endfor -%}
  {%- for name in names if only is none or name in only %}
  {{ "count(*)" if events and name == "impressions" else "sum(" ~ name ~ ")" }} as {{ name }}{{ "," if not loop.last }}
  {%- endfor %}
{%- endmacro %}
