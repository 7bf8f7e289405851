{#- Models land in the target schema (analytics) as is: no `<target>_<custom>` prefixing, because the
    dashboards and the GX mart check read fixed names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ adapter.dispatch('generate_schema_name', 'ad_events')(custom_schema_name, node) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
  {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
