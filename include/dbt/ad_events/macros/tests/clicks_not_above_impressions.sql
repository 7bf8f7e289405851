{#- clicks_not_above_impressions: business rule, a row never has more clicks than impressions nor more
    conversions than clicks. A failure means a join fanned out or a load double-counted. -#}
{% test clicks_not_above_impressions(model, clicks='clicks', impressions='impressions', conversions='conversions') %}
  {{ adapter.dispatch('test_clicks_not_above_impressions', 'ad_events')(model, clicks, impressions, conversions) }}
{% endtest %}

{% macro default__test_clicks_not_above_impressions(model, clicks, impressions, conversions) %}
select * from {{ model }}
where {{ clicks }} > {{ impressions }} or {{ conversions }} > {{ clicks }} or {{ clicks }} < 0
{% endmacro %}
