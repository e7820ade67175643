{#- Base models that grow with the landing zone load only the files they have not loaded yet.

    Landing files are immutable (a re-send or a late file is a new part file, usually in a later day's
    folder), so "what is new" is a set of files: those in the landing zone whose rows are not in the
    table yet, by their path inside the landing zone (landing_file_path), so that the terminal's
    relative LANDING_DIR and Dagster's absolute one name the same files. Each new row is classified
    as in a full build, and the rows whose classification can change with it are classified again
    from the table:
    - every row sharing a natural key with a new row (deduplication: the earliest-loaded valid copy
      wins, so a new copy can make an old one a duplicate or the other way round);
    - every row whose lookup of another table a later file can change (`recheck`: an order id or a
      product id not known yet, which makes the row an orphan until its parent lands), and every row
      sharing its key.
    Those rows are replaced in place (delete+insert on the landing row's identity), so the table
    equals a full build's. A loaded file that is no longer in the landing zone stops the build:
    its rows cannot be repaired incrementally; `dbt build --full-refresh` rebuilds from what is there. -#}

{#- A SQL condition on the source's `filename` column: the files not loaded yet (all on a full build). -#}
{% macro landing_files_to_load(source_relation) -%}
    {%- if not is_incremental() or not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set query -%}
        with landed as (
            select distinct filename, {{ landing_file_path('filename') }} as source_file
            from {{ source_relation }}
        ),

        loaded as (
            select distinct _source_file as source_file from {{ this }}
        )

        select 'new' as kind, landed.filename as file from landed anti join loaded using (source_file)
        union all
        select 'gone' as kind, loaded.source_file as file from loaded anti join landed using (source_file)
        order by kind, file
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- set gone = rows | selectattr(0, 'equalto', 'gone') | map(attribute=1) | list -%}
    {%- if gone -%}
        {{ exceptions.raise_compiler_error(
            this ~ ": " ~ (gone | length) ~ " loaded landing file(s) are no longer in the landing zone (first: "
            ~ gone[0] ~ "). Landing files are immutable; rebuild from what is there with --full-refresh."
        ) }}
    {%- endif -%}
    {%- set new = rows | selectattr(0, 'equalto', 'new') | map(attribute=1) | list -%}
    {%- if not new -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for path in new -%}
        {%- do quoted.append("'" ~ (path | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return('filename in (' ~ (quoted | join(', ')) ~ ')') }}
{%- endmacro %}

{#- The rows to classify: the new landing rows (typed, in the CTE named `landed`), and on an
    incremental run the table's rows whose classification may change (see above). `recheck` is a
    condition on the table's rows; `derived` names the columns the model computes after typing, which
    the table's rows are stripped of. -#}
{% macro rows_to_classify(landed, keys, recheck, derived) -%}
    {{ return(adapter.dispatch('rows_to_classify')(landed, keys, recheck, derived)) }}
{%- endmacro %}

{% macro default__rows_to_classify(landed, keys, recheck, derived) -%}
    {%- set key_list = keys | join(', ') -%}
    select * from {{ landed }}
    {%- if is_incremental() %}
        union all by name
        select {{ relation_columns(this, exclude=derived + ['_dq_reason', '_is_duplicate']) }}
        from {{ this }}
        where ({{ key_list }}) in (
            {{ keys_to_reclassify(landed, keys, recheck) }}
        )
    {%- endif %}
{%- endmacro %}

{#- The keys whose loaded rows are classified again: those of the new rows, and those of the loaded
    rows `recheck` selects. -#}
{% macro keys_to_reclassify(landed, keys, recheck) -%}
    {%- set key_list = keys | join(', ') -%}
    select {{ key_list }} from {{ landed }}
    union
    select {{ key_list }} from {{ this }}
    where {{ recheck }}
{%- endmacro %}

{#- On Spark a base model is partitioned by landing day (`_loaded_on`) and an incremental run
    replaces whole days (insert_overwrite): the days of the new rows and of the loaded rows whose
    classification they can change. Every loaded row of those days is classified again and written
    with them, and the loaded rows of other days that share a key with one of them are read as well,
    so that deduplication sees every copy of a key, but not written. The model's final select keeps
    the replaced days only (`landing_days_written`). -#}
{% macro landing_day_partitions() -%}
    {{ return(['_loaded_on'] if target.type == 'spark' else none) }}
{%- endmacro %}

{% macro days_to_replace(landed, keys, recheck) -%}
    {%- set key_list = keys | join(', ') -%}
    select _loaded_on from {{ landed }}
    union
    select _loaded_on from {{ this }}
    where ({{ key_list }}) in (
        {{ keys_to_reclassify(landed, keys, recheck) }}
    )
{%- endmacro %}

{% macro spark__rows_to_classify(landed, keys, recheck, derived) -%}
    {%- set key_list = keys | join(', ') -%}
    select * from {{ landed }}
    {%- if is_incremental() %}
        union all
        select {{ landed_column_order(this, exclude=derived + ['_dq_reason', '_is_duplicate']) }}
        from {{ this }}
        where _loaded_on in ({{ days_to_replace(landed, keys, recheck) }})
            or ({{ key_list }}) in (
                select {{ key_list }} from {{ this }}
                where _loaded_on in ({{ days_to_replace(landed, keys, recheck) }})
            )
    {%- endif %}
{%- endmacro %}

{#- The table's columns in the order of the `landed` CTE: the lineage columns first, as
    parquet_lineage_columns writes them (Spark keeps a partition column last in the table). -#}
{% macro landed_column_order(relation, exclude) -%}
    {%- set lineage = ['_source_file', '_loaded_on', '_source_row_number', '_source_row'] -%}
    {%- set names = lineage[:] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name not in lineage and column.name not in exclude -%}
            {%- do names.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | join(', ')) }}
{%- endmacro %}

{#- A base model's final filter: on an incremental Spark run, the days being replaced; else none. -#}
{% macro landing_days_written(landed, keys, recheck) -%}
    {%- if target.type == 'spark' and is_incremental() -%}
        where _loaded_on in ({{ days_to_replace(landed, keys, recheck) }})
    {%- endif -%}
{%- endmacro %}
