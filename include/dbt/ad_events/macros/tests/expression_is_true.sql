{#- expression_is_true: every row satisfies `expression` (our own dbt_utils.expression_is_true: the
    dbt hub is not reachable from these machines). A failure returns the offending rows. -#}
{% test expression_is_true(model, expression) %}
  {{ adapter.dispatch('test_expression_is_true', 'ad_events')(model, expression) }}
{% endtest %}

{% macro default__test_expression_is_true(model, expression) %}
select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endmacro %}
