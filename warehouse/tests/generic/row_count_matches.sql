{#- The model has exactly as many rows as another relation (optionally filtered): nothing was
    dropped or fanned out by a join. -#}
{% test row_count_matches(model, compare_model, compare_filter='true') %}
    with counts as (
        select
            (select count(*) from {{ model }}) as model_rows,
            (select count(*) from {{ compare_model }} where {{ compare_filter }}) as compare_rows
    )

    select *
    from counts
    where model_rows <> compare_rows
{% endtest %}
