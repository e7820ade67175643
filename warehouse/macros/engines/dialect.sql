{#- The SQL that differs between the engines the project builds on (target `dev`: DuckDB, the default
    and the reference; target `spark`: Apache Spark). Each construct is one macro dispatched on the
    adapter: the duckdb__ body is the SQL the models used before there was a second engine, so the
    DuckDB tables do not change; the spark__ body says the same thing in Spark SQL.
    docs/scale-out.md lists every construct and why each Spark form is equivalent. -#}

{#- The whole string matches a regular expression (the patterns here are RE2 and Java alike). -#}
{% macro regex_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match')(value, pattern)) }}
{%- endmacro %}

{% macro duckdb__regex_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_full_match(value, pattern) -%}
    ({{ value }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}

{#- The string contains a match of a regular expression. -#}
{% macro regex_contains(value, pattern) -%}
    {{ return(adapter.dispatch('regex_contains')(value, pattern)) }}
{%- endmacro %}

{% macro duckdb__regex_contains(value, pattern) -%}
    regexp_matches({{ value }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_contains(value, pattern) -%}
    ({{ value }} rlike '{{ pattern }}')
{%- endmacro %}

{#- The whole match of a regular expression ('' when none). DuckDB's default group is 0, Spark's 1. -#}
{% macro regex_match(value, pattern) -%}
    {{ return(adapter.dispatch('regex_match')(value, pattern)) }}
{%- endmacro %}

{% macro duckdb__regex_match(value, pattern) -%}
    regexp_extract({{ value }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_match(value, pattern) -%}
    regexp_extract({{ value }}, '{{ pattern }}', 0)
{%- endmacro %}

{#- Every match of a regular expression replaced. -#}
{% macro regex_replace_all(value, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all')(value, pattern, replacement)) }}
{%- endmacro %}

{% macro duckdb__regex_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{#- An ISO-8601 string with a UTC offset as a naive UTC timestamp (null when it does not parse). -#}
{% macro parse_timestamp_with_offset(value) -%}
    {{ return(adapter.dispatch('parse_timestamp_with_offset')(value)) }}
{%- endmacro %}

{% macro duckdb__parse_timestamp_with_offset(value) -%}
    (try_cast({{ value }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- The session time zone is UTC (profiles.yml), so the instant read as a local timestamp is UTC. -#}
{% macro spark__parse_timestamp_with_offset(value) -%}
    cast(try_cast({{ value }} as timestamp_ltz) as timestamp_ntz)
{%- endmacro %}

{#- The calendar day of a naive UTC timestamp in an IANA time zone. -#}
{% macro utc_to_local_date(utc_timestamp, timezone) -%}
    {{ return(adapter.dispatch('utc_to_local_date')(utc_timestamp, timezone)) }}
{%- endmacro %}

{% macro duckdb__utc_to_local_date(utc_timestamp, timezone) -%}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone {{ timezone }} as date)
{%- endmacro %}

{% macro spark__utc_to_local_date(utc_timestamp, timezone) -%}
    cast(from_utc_timestamp(cast({{ utc_timestamp }} as timestamp_ltz), {{ timezone }}) as date)
{%- endmacro %}

{#- Whole days from `start` to `end` (calendar-day boundaries crossed; negative when end is earlier). -#}
{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between')(start, end)) }}
{%- endmacro %}

{% macro duckdb__days_between(start, end) -%}
    date_diff('day', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__days_between(start, end) -%}
    cast(datediff(cast({{ end }} as date), cast({{ start }} as date)) as bigint)
{%- endmacro %}

{#- A timestamp or date formatted with strftime letters (only %Y %m %d %H %M %S are used). -#}
{% macro format_timestamp(value, strftime_format) -%}
    {{ return(adapter.dispatch('format_timestamp')(value, strftime_format)) }}
{%- endmacro %}

{% macro duckdb__format_timestamp(value, strftime_format) -%}
    strftime({{ value }}, '{{ strftime_format }}')
{%- endmacro %}

{% macro spark__format_timestamp(value, strftime_format) -%}
    {%- set letters = {'%Y': 'yyyy', '%m': 'MM', '%d': 'dd', '%H': 'HH', '%M': 'mm', '%S': 'ss'} -%}
    {%- set pattern = namespace(text=strftime_format | replace("T", "''T''")) -%}
    {%- for letter, spark_letter in letters.items() -%}
        {%- set pattern.text = pattern.text | replace(letter, spark_letter) -%}
    {%- endfor -%}
    date_format({{ value }}, '{{ pattern.text }}')
{%- endmacro %}

{#- A row of a relation (a CTE name) as a JSON object, for the record of a quarantined row. -#}
{% macro row_to_json(relation) -%}
    {{ return(adapter.dispatch('row_to_json')(relation)) }}
{%- endmacro %}

{% macro duckdb__row_to_json(relation) -%}
    to_json({{ relation }})
{%- endmacro %}

{% macro spark__row_to_json(relation) -%}
    to_json(struct({{ relation }}.*))
{%- endmacro %}

{#- The value of `value` on the row with the largest / smallest `ordering`. -#}
{% macro value_at_max(value, ordering) -%}
    {{ return(adapter.dispatch('value_at_max')(value, ordering)) }}
{%- endmacro %}

{% macro duckdb__value_at_max(value, ordering) -%}
    arg_max({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__value_at_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro value_at_min(value, ordering) -%}
    {{ return(adapter.dispatch('value_at_min')(value, ordering)) }}
{%- endmacro %}

{% macro duckdb__value_at_min(value, ordering) -%}
    arg_min({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__value_at_min(value, ordering) -%}
    min_by({{ value }}, {{ ordering }})
{%- endmacro %}

{#- An error raised by the query itself, with a message. -#}
{% macro raise_sql_error(message_sql) -%}
    {{ return(adapter.dispatch('raise_sql_error')(message_sql)) }}
{%- endmacro %}

{% macro duckdb__raise_sql_error(message_sql) -%}
    error({{ message_sql }})
{%- endmacro %}

{% macro spark__raise_sql_error(message_sql) -%}
    raise_error({{ message_sql }})
{%- endmacro %}

{#- ASOF LEFT JOIN: each row of `left` with the nearest row of `right` (aliased `alias`) that has the
    same `keys` and whose `right_time` stands in `op` to the left row's `left_time`: `>=` or `>` the
    latest one at or before, `<=` or `<` the earliest one at or after (null columns when none).
    `columns` is the select list over `left` and `alias`; `left_id`, the columns that identify a
    left row. Spark has no ASOF join: a range join ranks each left row's matches and keeps the
    nearest, joined back to the left rows. -#}
{% macro asof_left_join(left, right, alias, keys, left_time, op, right_time, columns, left_id) -%}
    {{ return(adapter.dispatch('asof_left_join')(left, right, alias, keys, left_time, op, right_time, columns, left_id)) }}
{%- endmacro %}

{% macro duckdb__asof_left_join(left, right, alias, keys, left_time, op, right_time, columns, left_id) -%}
    select
        {{ columns | join(',\n        ') }}
    from {{ left }}
    asof left join {{ right }}{% if alias != right %} as {{ alias }}{% endif %}
        on {% for key in keys %}{{ left }}.{{ key }} = {{ alias }}.{{ key }}
            and {% endfor %}{{ left }}.{{ left_time }} {{ op }} {{ alias }}.{{ right_time }}
{%- endmacro %}

{% macro spark__asof_left_join(left, right, alias, keys, left_time, op, right_time, columns, left_id) -%}
    {%- set nearest = 'desc' if op in ('>=', '>') else 'asc' -%}
    select
        {{ columns | join(',\n        ') }}
    from {{ left }}
    left join (
        select *
        from (
            select
                {%- for column in left_id %}
                {{ left }}.{{ column }} as _asof_{{ column }},
                {%- endfor %}
                {{ alias }}.*,
                row_number() over (
                    partition by {% for column in left_id %}{{ left }}.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
                    order by {{ alias }}.{{ right_time }} {{ nearest }}
                ) as _asof_rank
            from {{ left }}
            inner join {{ right }}{% if alias != right %} as {{ alias }}{% endif %}
                on {% for key in keys %}{{ left }}.{{ key }} = {{ alias }}.{{ key }}
                    and {% endfor %}{{ left }}.{{ left_time }} {{ op }} {{ alias }}.{{ right_time }}
        )
        where _asof_rank = 1
    ) as {{ alias }}
        on {% for column in left_id %}{{ left }}.{{ column }} <=> {{ alias }}._asof_{{ column }}{% if not loop.last %}
            and {% endif %}{% endfor %}
{%- endmacro %}

{#- An interval literal of `amount` `unit` (microsecond, hour or day) for a RANGE window bound.
    Spark wants both bounds of a frame in the same interval type, so there it is a DAY TO SECOND. -#}
{% macro range_interval(amount, unit) -%}
    {{ return(adapter.dispatch('range_interval')(amount, unit)) }}
{%- endmacro %}

{% macro duckdb__range_interval(amount, unit) -%}
    interval {{ amount }} {{ unit }}
{%- endmacro %}

{% macro spark__range_interval(amount, unit) -%}
    {%- set microseconds = (amount | int) * {'microsecond': 1, 'hour': 3600000000, 'day': 86400000000}[unit] -%}
    {%- set seconds, micros = (microseconds // 1000000), (microseconds % 1000000) -%}
    interval '{{ seconds // 86400 }} {{ '%02d' % ((seconds % 86400) // 3600) }}:00:{{ '%02d' % (seconds % 60) }}.{{ '%06d' % micros }}' day to second
{%- endmacro %}

{#- The elements of a list of strings joined with a separator. -#}
{% macro join_list(list_column, separator) -%}
    {{ return(adapter.dispatch('join_list')(list_column, separator)) }}
{%- endmacro %}

{% macro duckdb__join_list(list_column, separator) -%}
    array_to_string({{ list_column }}, '{{ separator }}')
{%- endmacro %}

{% macro spark__join_list(list_column, separator) -%}
    array_join({{ list_column }}, '{{ separator }}')
{%- endmacro %}

{#- `value in (select column from relation)` with SQL's three-valued result: null for a null value
    when the relation has rows, false when it has none. Spark answers false for a null value in a
    select list, so there the null case is spelled out. -#}
{% macro is_in(value, relation, column) -%}
    {{ return(adapter.dispatch('is_in')(value, relation, column)) }}
{%- endmacro %}

{% macro duckdb__is_in(value, relation, column) -%}
    {{ value }} in (select {{ relation }}.{{ column }} from {{ relation }})
{%- endmacro %}

{% macro spark__is_in(value, relation, column) -%}
    case
        when {{ value }} is not null then {{ value }} in (select {{ relation }}.{{ column }} from {{ relation }})
        else (select case when count(*) > 0 then cast(null as boolean) else false end from {{ relation }})
    end
{%- endmacro %}

{#- The records the landing inventory writes beside each file it rejects (one Parquet file each under
    the rejected folder's <system>/<table>/<date=D>/), or no rows, with their columns, before the
    first rejection. DuckDB globs them when the model runs; on Spark they are the table
    create_source_relations declares over the folder (an empty folder, or none, reads as no rows). -#}
{% macro rejection_records(rejected_dir) -%}
    {{ return(adapter.dispatch('rejection_records')(rejected_dir)) }}
{%- endmacro %}

{% macro duckdb__rejection_records(rejected_dir) -%}
    {%- set records = rejected_dir ~ '/*/*/*/*.rejection.parquet' %}
    {%- set found = 0 %}
    {%- if execute %}
        {%- set found = run_query("select count(*) from glob('" ~ records ~ "')").columns[0].values()[0] %}
    {%- endif %}
    {%- if found > 0 %}
    select * from read_parquet('{{ records }}', union_by_name = true)
    {%- else %}
    select
        cast(null as string) as source_system,
        cast(null as string) as source_table,
        cast(null as string) as landing_file,
        cast(null as string) as rejected_file,
        cast(null as date) as loaded_on,
        cast(null as bigint) as bytes,
        cast(null as string) as reason,
        cast(null as string) as detail,
        cast(null as timestamp) as rejected_at
    where false
    {%- endif %}
{%- endmacro %}

{% macro spark__rejection_records(rejected_dir) -%}
    select * from landing_rejections.records
{%- endmacro %}

{#- One row per day from `start` to `end` (dates, both included) as a set-returning select item. -#}
{% macro date_series(start, end) -%}
    {{ return(adapter.dispatch('date_series')(start, end)) }}
{%- endmacro %}

{% macro duckdb__date_series(start, end) -%}
    cast(unnest(generate_series({{ start }}, {{ end }}, interval 1 day)) as date)
{%- endmacro %}

{% macro spark__date_series(start, end) -%}
    explode(sequence(cast({{ start }} as date), cast({{ end }} as date), interval 1 day))
{%- endmacro %}

{#- ISO day of the week: Monday 1 to Sunday 7. -#}
{% macro iso_day_of_week(value) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(value)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(value) -%}
    isodow({{ value }})
{%- endmacro %}

{% macro spark__iso_day_of_week(value) -%}
    cast(weekday({{ value }}) + 1 as bigint)
{%- endmacro %}
