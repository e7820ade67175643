{#- The model has at least one row. -#}
{% test not_empty(model) %}
    select 1 as failure
    where not exists (select 1 from {{ model }})
{% endtest %}
