{#- traffic_type_split: one summed measure split into a column per traffic type (site_<measure>,
    app_<measure>): the two types stg_ad_events assigns (doc traffic_type), so the split adds up to
    the measure's total. -#}
{% macro traffic_type_split(measure) -%}
  {{ adapter.dispatch('traffic_type_split', 'ad_events')(measure) }}
{%- endmacro %}

{% macro default__traffic_type_split(measure) -%}
  {%- for traffic_type in ['site', 'app'] %}
  sum({{ measure }}) filter (where traffic_type = '{{ traffic_type }}') as {{ traffic_type }}_{{ measure }}{{ "," if not loop.last }}
  {%- endfor %}
{%- endmacro %}
