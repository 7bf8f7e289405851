{#- unique_combination: the columns together are a key of the model (the grain stated in its yml). A
    failure means the grain is not what the docs say. -#}
{% test unique_combination(model, columns) %}
  {{ adapter.dispatch('test_unique_combination', 'ad_events')(model, columns) }}
{% endtest %}

{% macro default__test_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endmacro %}
