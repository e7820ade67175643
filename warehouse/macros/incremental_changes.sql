{#- Models whose every row can change with new data, but few rows do in a day (an order gains a late
    item, a payment's windows gain a late payment): the model computes every row, which DuckDB does in
    a fraction of the time it takes to write them, and an incremental run writes only the rows that
    differ from the table (delete+insert on the model's unique key). Rows whose key is gone upstream are
    deleted by a post-hook (delete_rows_missing_from). A full refresh builds the same table whole. -#}

{#- The rows of `cte` that are not in the table already, or all of them on a full build. -#}
{% macro rows_not_in_table(cte) -%}
    select * from {{ cte }}
    {%- if is_incremental() %}
        except
        select {{ relation_columns(this) }} from {{ this }}
    {%- endif %}
{%- endmacro %}

{#- A post-hook: delete the rows whose `key` is no longer in `relation` (nothing on a full build). -#}
{% macro delete_rows_missing_from(key, relation) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ key }} not in (select {{ key }} from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- The columns of a built relation, quoted, in order, but those in `exclude`: an incremental branch
    names the columns it reads from its own table rather than selecting a wildcard. -#}
{% macro relation_columns(relation, exclude=[]) -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) if column.name not in exclude -%}
        {%- do names.append(adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{ return(names | join(', ')) }}
{%- endmacro %}
