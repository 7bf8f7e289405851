{#- ratio_between_0_and_1: a rate column (ctr) is NULL or within [0, 1]. Outside means a wrong
    denominator. -#}
{% test ratio_between_0_and_1(model, column_name) %}
  {{ adapter.dispatch('test_ratio_between_0_and_1', 'ad_events')(model, column_name) }}
{% endtest %}

{% macro default__test_ratio_between_0_and_1(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0 or {{ column_name }} > 1
{% endmacro %}
