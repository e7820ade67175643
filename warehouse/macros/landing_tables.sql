{#- Every landing table the warehouse reads: the quarantine and reconciliation models loop over it.
    dbt needs a model's sources while it parses, before the source YAML's meta can be read, so the
    tables are listed here (retail's) and in the var domain_landing_tables (a domain's, included
    when WAREHOUSE_DOMAINS switches it on); their contract (format, cadence) lives in the source YAML
    only, and tests/warehouse/test_landing_contract.py fails when these lists and the sources with a
    `landing_format` differ. -#}
{% macro landing_tables() -%}
    {%- set switched_on = env_var('WAREHOUSE_DOMAINS', '').replace(' ', '').split(',') -%}
    {%- set tables = [
        {'system': 'crm', 'table': 'customers'},
        {'system': 'catalog', 'table': 'products'},
        {'system': 'catalog', 'table': 'product_prices'},
        {'system': 'marketing', 'table': 'promotions'},
        {'system': 'shop', 'table': 'orders'},
        {'system': 'shop', 'table': 'order_items'},
        {'system': 'payments', 'table': 'payments'},
        {'system': 'payments', 'table': 'cards'},
        {'system': 'payments', 'table': 'devices'},
        {'system': 'disputes', 'table': 'chargebacks'},
    ] -%}
    {%- for domain, domain_tables in var('domain_landing_tables', {}).items() -%}
        {%- if domain in switched_on -%}
            {%- do tables.extend(domain_tables) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{#- A landing table's format, from its source YAML's meta (read when the model runs). -#}
{% macro landing_format(landing_table) -%}
    {%- if not execute -%}
        {{ return('parquet') }}
    {%- endif -%}
    {%- set key = 'source.' ~ project_name ~ '.' ~ landing_table.system ~ '.' ~ landing_table.table -%}
    {{ return(graph.sources[key].meta.landing_format) }}
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
    {%- if landing_format(landing_table) == 'csv' -%}
        {{ csv_record_count(relation) }}
    {%- else -%}
        (select count(*) from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- The records of CSV files read whole (one row per file: filename, content): the non-empty lines
    but each file's header. -#}
{% macro csv_record_count(relation) -%}
    {{ return(adapter.dispatch('csv_record_count')(relation)) }}
{%- endmacro %}

{% macro duckdb__csv_record_count(relation) -%}
        (
            select coalesce(sum(greatest(len(list_filter(
                string_split(replace(content, chr(13) || chr(10), chr(10)), chr(10)), line -> line <> ''
            )) - 1, 0)), 0)
            from {{ relation }}
        )
{%- endmacro %}

{% macro spark__csv_record_count(relation) -%}
        (
            select coalesce(sum(greatest(size(filter(
                split(replace(content, '\r\n', '\n'), '\n', -1), line -> line <> ''
            )) - 1, 0)), 0)
            from {{ relation }}
        )
{%- endmacro %}
