{#- day_filter: in an incremental run with var('day'), restrict to that day (so delete+insert on
    event_day replaces exactly day D); otherwise no filter (full rebuild from every loaded day). -#}
{% macro day_filter(column='event_day') -%}
  {{ adapter.dispatch('day_filter', 'ad_events')(column) }}
{%- endmacro %}

{% macro default__day_filter(column) -%}
  {%- if is_incremental() and var('day', none) -%}
    {{ column }} = '{{ var("day") }}'::date
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}
