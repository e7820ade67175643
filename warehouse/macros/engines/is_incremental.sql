{#- dbt's is_incremental(), and on Spark only for a model partitioned by landing day.

    On DuckDB an incremental model deletes and re-inserts the rows of its unique key. Spark's natural
    form is insert_overwrite: the rows selected replace whole partitions (dynamic partition
    overwrite, profiles.yml). The models partitioned by landing day select whole days: fct_payments
    (loaded_on, its unique key) and the base models (_loaded_on: every row of each day they replace,
    macros/incremental_landing.sql). The other incremental models (fct_orders,
    int_orders_business_dated, feat_payment_fraud) compute every row and write the changed ones, by
    an order or payment key that an overwrite of partitions would not honour; on Spark they select
    every row and insert_overwrite replaces the whole table, which costs what their computation
    costs. -#}
{% macro is_incremental() -%}
    {%- if target.type == 'spark' and not config.get('partition_by') -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
