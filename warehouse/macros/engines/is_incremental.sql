{#- dbt's is_incremental(), and on Spark only for a model partitioned by landing day.

    On DuckDB an incremental model deletes and re-inserts the rows of its unique key. Spark's natural
    form is insert_overwrite: the rows selected replace whole partitions (dynamic partition
    overwrite, profiles.yml), which is the same thing exactly when the unique key is the partition
    column, as in fct_payments (loaded_on). The other incremental models select changed rows by other
    keys (a landing file, a payment, an order), which an overwrite of their partitions would lose;
    on Spark they select every row and insert_overwrite replaces the whole table. -#}
{% macro is_incremental() -%}
    {%- if target.type == 'spark' and not config.get('partition_by') -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
