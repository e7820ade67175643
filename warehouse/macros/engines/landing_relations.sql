{#- The sources as relations, so that `source()` names the same rows on every engine.
    DuckDB reads them where they lie: each source's meta.external_location (read_parquet/read_text)
    is what dbt-duckdb renders for `source()`, so nothing is created. Spark has no such table
    function in a relation name: an on-run-start hook creates one view per landing table, over the
    landing folder, with the columns DuckDB's readers add (the hive partition `date`, `filename`,
    `file_row_number`; for CSV one row per file with `filename` and `content`). A view reads the
    folder when it is queried, so files landed after it was created are in it. dbt creates nothing
    in the ml schema: on Spark the ml layer's tables come from orchestration/lib/spark_build.py.
    Run it before a build on Spark: `dbt run-operation create_source_relations --target spark`. -#}
{% macro create_source_relations() -%}
    {{ return(adapter.dispatch('create_source_relations')()) }}
{%- endmacro %}

{% macro duckdb__create_source_relations() -%}
    select 1
{%- endmacro %}

{% macro spark__create_source_relations() -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set landing_dir = env_var('LANDING_DIR', '../data/landing') -%}
    {%- for node in graph.sources.values() if node.meta.get('landing_format') -%}
        {%- set folder = landing_dir ~ '/' ~ node.source_name ~ '/' ~ node.name -%}
        {%- set relation = node.schema ~ '.' ~ node.identifier -%}
        {%- do run_query('create schema if not exists ' ~ node.schema) -%}
        {%- if node.meta.landing_format == 'csv' -%}
            {#- a text table reading each file whole (an external table: dropping it keeps the files) -#}
            {%- set files = node.schema ~ '.' ~ node.identifier ~ '__files' -%}
            {%- do run_query('drop table if exists ' ~ files) -%}
            {%- do run_query(
                'create table ' ~ files ~ " using text options (path '" ~ folder ~ "', wholetext 'true',"
                ~ " recursiveFileLookup 'true', pathGlobFilter '*.csv')"
            ) -%}
            {%- do run_query(
                'create or replace view ' ~ relation ~ ' as select _metadata.file_path as filename,'
                ~ ' value as content from ' ~ files
            ) -%}
        {%- else -%}
            {%- do run_query(
                'create or replace view ' ~ relation ~ ' as select *, _metadata.file_path as filename,'
                ~ ' _metadata.row_index as file_row_number from parquet.`' ~ folder ~ '`'
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- the landing inventory's records of rejected files (audit__rejected_files) -#}
    {%- do run_query('create schema if not exists landing_rejections') -%}
    {%- do run_query('drop table if exists landing_rejections.records') -%}
    {%- do run_query(
        'create table landing_rejections.records (source_system string, source_table string,'
        ~ ' landing_file string, rejected_file string, loaded_on date, bytes bigint, reason string,'
        ~ ' detail string, rejected_at timestamp) using parquet options (path \'' ~ var('rejected_dir')
        ~ "', recursiveFileLookup 'true', pathGlobFilter '*.rejection.parquet')"
    ) -%}
    {{ return('select 1') }}
{%- endmacro %}
