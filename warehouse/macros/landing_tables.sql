{#- Every landing table the warehouse reads, in one place: the quarantine and reconciliation models
    loop over it, so a new source table is audited by adding one line here. -#}
{% macro landing_tables() -%}
    {{ return([
        {'system': 'crm', 'table': 'customers', 'format': 'parquet'},
        {'system': 'catalog', 'table': 'products', 'format': 'parquet'},
        {'system': 'catalog', 'table': 'product_prices', 'format': 'parquet'},
        {'system': 'marketing', 'table': 'promotions', 'format': 'parquet'},
        {'system': 'shop', 'table': 'orders', 'format': 'parquet'},
        {'system': 'shop', 'table': 'order_items', 'format': 'parquet'},
        {'system': 'payments', 'table': 'payments', 'format': 'parquet'},
        {'system': 'payments', 'table': 'cards', 'format': 'parquet'},
        {'system': 'payments', 'table': 'devices', 'format': 'parquet'},
        {'system': 'disputes', 'table': 'chargebacks', 'format': 'csv'},
    ]) }}
{%- endmacro %}

{% macro base_model_name(landing_table) -%}
    base_{{ landing_table.system }}__{{ landing_table.table }}
{%- endmacro %}

{% macro staging_model_name(landing_table) -%}
    stg_{{ landing_table.system }}__{{ landing_table.table }}
{%- endmacro %}

{#- Rows as the source system sent them: parquet rows, or the non-empty data lines of CSV files. -#}
{% macro landing_row_count(landing_table) -%}
    {%- set relation = source(landing_table.system, landing_table.table) -%}
    {%- if landing_table.format == 'csv' -%}
        (
            select coalesce(sum(greatest(len(list_filter(
                string_split(replace(content, chr(13) || chr(10), chr(10)), chr(10)), line -> line <> ''
            )) - 1, 0)), 0)
            from {{ relation }}
        )
    {%- else -%}
        (select count(*) from {{ relation }})
    {%- endif -%}
{%- endmacro %}
