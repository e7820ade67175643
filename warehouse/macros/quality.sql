{#- Row classification shared by every base model: each landing row is valid, a duplicate of a valid
    row, or quarantined with the first rule it breaks. -#}

{#- rules: a list of [condition, reason]; the first condition that holds names the reason. -#}
{% macro first_failed_rule(rules) -%}
    case
    {%- for condition, reason in rules %}
        when {{ condition }} then '{{ reason }}'
    {%- endfor %}
    end
{%- endmacro %}

{#- Per required column, in the order given: it is present, then it is not oversized (an identifier,
    code or timestamp longer than var max_value_length is a defect, not data). -#}
{% macro required_column_rules(columns) -%}
    {%- set rules = [] -%}
    {%- for column in columns -%}
        {%- do rules.append([column ~ ' is null', 'missing_required_field:' ~ column]) -%}
    {%- endfor -%}
    {%- for column in columns -%}
        {%- do rules.append([
            'length(cast(' ~ column ~ ' as string)) > ' ~ var('max_value_length'),
            'oversized_value:' ~ column,
        ]) -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}

{#- The earliest-loaded valid row per natural key is kept; later copies are re-sends. -#}
{% macro is_resent_duplicate(key_columns, reason_column='_dq_reason') -%}
    (
        {{ reason_column }} is null
        and row_number() over (
            partition by {{ reason_column }} is null, {{ key_columns | join(', ') }}
            order by _loaded_on, _source_file, _source_row_number
        ) > 1
    )
{%- endmacro %}

{#- A landing file's path inside the landing zone (system/table/date=D/part-N.ext), whatever the
    landing zone's own path: the same file has the same name from the terminal (a relative
    LANDING_DIR) and from Dagster (an absolute one), and after the zone moves. -#}
{% macro landing_file_path(filename) -%}
    coalesce(nullif({{ regex_match(filename, '[^/]+/[^/]+/date=[^/]+/[^/]+$') }}, ''), {{ filename }})
{%- endmacro %}

{#- The lineage columns every base model carries, from a hive-partitioned parquet source. -#}
{% macro parquet_lineage_columns(source_cte='source') -%}
    {{ landing_file_path('filename') }} as _source_file,
    cast(date as date) as _loaded_on,
    file_row_number + 1 as _source_row_number,
    {{ row_to_json(source_cte) }} as _source_row
{%- endmacro %}
