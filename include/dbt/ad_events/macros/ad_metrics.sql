{#- ad_metrics: the ratio columns of summed counts and money, the one place a mart computes a ratio
    (docs/design.md "Metric definitions"; the contract is include/metrics_contract.py, and
    tests/dbt/test_metric_contract.py holds this macro and every model to it).

    Each ratio is numerator / denominator as unrounded NUMERIC, NULL when the denominator is 0
    (safe_divide). Arguments: the SQL of each summed measure (a column or an aggregate such as
    'sum(clicks)'), and `only`, the ratios a mart keeps (default: all of them, in contract order). -#}
{% macro ad_metrics(impressions='impressions', clicks='clicks', conversions='conversions', cost='cost', revenue='revenue', only=none) -%}
  {{ adapter.dispatch('ad_metrics', 'ad_events')(impressions, clicks, conversions, cost, revenue, only) }}
{%- endmacro %}

{% macro default__ad_metrics(impressions, clicks, conversions, cost, revenue, only) -%}
  {%- set measures = {'impressions': impressions, 'clicks': clicks, 'conversions': conversions,
                      'cost': cost, 'revenue': revenue} -%}
  {#- (name, numerator, denominator), as in include/metrics_contract.py RATIOS -#}
  {%- set ratios = [('ctr', 'clicks', 'impressions'), ('cpc', 'cost', 'clicks'),
                    ('cpa', 'cost', 'conversions'), ('roas', 'revenue', 'cost')] -%}
  {%- set names = ratios | map(attribute=0) | list -%}
  {%- for name in only or [] if name not in names -%}
    {{ exceptions.raise_compiler_error("ad_metrics: unknown ratio " ~ name ~ " (known: " ~ names | join(", ") ~ ")") }}
  {%- endfor -%}
  {%- for name, numerator, denominator in ratios if only is none or name in only %}
  {{ safe_divide(measures[numerator], measures[denominator]) }} as {{ name }}{{ "," if not loop.last }}
  {%- endfor %}
{%- endmacro %}
