{#- CSV landing files are read line by line (read_text) and parsed with one strict pattern, so that a
    malformed line is kept whole, with its file and line number, instead of being skipped by the
    reader. A field is either "quoted" (may contain commas) or bare (no commas, no quotes). -#}

{% macro csv_record_pattern(n_fields) -%}
    {%- set field = '(?:"([^"]*)"|([^,"]*))' -%}
    ^{% for _ in range(n_fields) %}{{ field }}{% if not loop.last %},{% endif %}{% endfor %}$
{%- endmacro %}

{#- Yields: _source_file, _loaded_on, _source_row_number (line number), _source_row (the raw line),
    _is_malformed, and one varchar column per name in `columns` (empty fields become null). -#}
{% macro parse_csv_lines(relation, columns) -%}
    {{ return(adapter.dispatch('parse_csv_lines')(relation, columns)) }}
{%- endmacro %}

{% macro duckdb__parse_csv_lines(relation, columns) -%}
    {%- set pattern = csv_record_pattern(columns | length) -%}
    {%- set groups = [] -%}
    {%- for column in columns -%}
        {%- do groups.extend(["'" ~ column ~ "__quoted'", "'" ~ column ~ "__bare'"]) -%}
    {%- endfor %}
    with files as (
        select
            filename,
            string_split(replace(content, chr(13) || chr(10), chr(10)), chr(10)) as lines
        from {{ relation }}
    ),

    lines as (
        select
            {{ landing_file_path('filename') }} as _source_file,
            cast(regexp_extract(filename, 'date=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date) as _loaded_on,
            unnest(generate_series(1, len(lines))) as _source_row_number,
            unnest(lines) as _source_row
        from files
    ),

    records as (
        select
            *,
            not regexp_full_match(_source_row, '{{ pattern }}') as _is_malformed,
            regexp_extract(_source_row, '{{ pattern }}', [{{ groups | join(', ') }}]) as _fields
        from lines
        -- line 1 is the header; an empty line (such as after the final newline) holds no record
        where _source_row_number > 1 and _source_row <> ''
    )

    select
        _source_file,
        _loaded_on,
        _source_row_number,
        _source_row,
        _is_malformed,
        {%- for column in columns %}
        case when not _is_malformed then
            coalesce(nullif(_fields.{{ column }}__quoted, ''), nullif(_fields.{{ column }}__bare, ''))
        end as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from records
{%- endmacro %}

{#- Spark: the same lines (posexplode numbers them from 0) and the same pattern, one group at a time
    (field i is groups 2i+1, quoted, and 2i+2, bare; an unmatched group is ''). -#}
{% macro spark__parse_csv_lines(relation, columns) -%}
    {%- set pattern = csv_record_pattern(columns | length) %}
    with files as (
        select
            filename,
            split(replace(content, '\r\n', '\n'), '\n', -1) as lines
        from {{ relation }}
    ),

    lines as (
        select
            {{ landing_file_path('filename') }} as _source_file,
            cast(regexp_extract(filename, 'date=([0-9]{4}-[0-9]{2}-[0-9]{2})', 1) as date) as _loaded_on,
            cast(line.pos + 1 as bigint) as _source_row_number,
            line.col as _source_row
        from files
        lateral view posexplode(lines) line as pos, col
    ),

    records as (
        select
            *,
            not {{ regex_full_match('_source_row', pattern) }} as _is_malformed
        from lines
        -- line 1 is the header; an empty line (such as after the final newline) holds no record
        where _source_row_number > 1 and _source_row <> ''
    )

    select
        _source_file,
        _loaded_on,
        _source_row_number,
        _source_row,
        _is_malformed,
        {%- for column in columns %}
        case when not _is_malformed then
            coalesce(
                nullif(regexp_extract(_source_row, '{{ pattern }}', {{ 2 * loop.index0 + 1 }}), ''),
                nullif(regexp_extract(_source_row, '{{ pattern }}', {{ 2 * loop.index0 + 2 }}), '')
            )
        end as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from records
{%- endmacro %}
