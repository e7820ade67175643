{#- The newest value of a date/timestamp column is at most `max_lag_days` behind the newest value
    of a reference column (for example the latest landing day): the data keeps up with its inputs.
    Measured against the data, not the wall clock, so a historical demo stays testable. -#}
{% test recency(model, column_name, reference_model, reference_column, max_lag_days=1) %}
    with bounds as (
        select
            (select max(cast({{ column_name }} as date)) from {{ model }}) as latest,
            (select max(cast({{ reference_column }} as date)) from {{ reference_model }}) as reference_latest
    )

    select *
    from bounds
    where latest is null or latest < reference_latest - {{ max_lag_days }}
{% endtest %}
