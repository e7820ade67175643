{#- Landing systems export ISO-8601 strings with a UTC offset. A value without an offset cannot be
    placed in time and is quarantined; everything else is normalized to a naive UTC timestamp. -#}

{% macro has_utc_offset(column) -%}
    coalesce({{ regex_contains('trim(' ~ column ~ ')', '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$') }}, false)
{%- endmacro %}

{#- Null unless the value carries its offset: an instant is never guessed from the session zone. -#}
{% macro to_utc_timestamp(column) -%}
    case
        when {{ has_utc_offset(column) }}
            then {{ parse_timestamp_with_offset('trim(' ~ column ~ ')') }}
    end
{%- endmacro %}

{#- Exports are cut per local day; in UTC an event of export day D can fall up to D+1 14:00 (UTC+14).
    Anything at or after D+2 00:00 UTC was not known when the file was written. -#}
{% macro is_after_export(timestamp_column, export_date_column='_loaded_on') -%}
    {{ timestamp_column }} >= {{ export_date_column }} + interval 2 day
{%- endmacro %}

{#- The calendar day of a naive UTC timestamp in an IANA time zone (a column or a quoted literal). -#}
{% macro local_date(utc_timestamp, timezone) -%}
    {{ utc_to_local_date(utc_timestamp, timezone) }}
{%- endmacro %}

{#- A day passed in as a var (YYYY-MM-DD) as a date literal; anything else stops compilation, so a
    var can never inject SQL. Returns none when it is not set. The same value may come from the
    environment variable of the upper-cased name (LANDING_DAY_FROM): Dagster passes the days so,
    because a change of --vars makes dbt reparse the whole project (about 11 s here) while a changed
    environment variable reparses only the models that read it. -#}
{% macro day_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none -%}
        {%- set value = env_var(name | upper, '') or none -%}
    {%- endif -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
        {{ exceptions.raise_compiler_error(name ~ " must be a day as YYYY-MM-DD, got " ~ value) }}
    {%- endif -%}
    {{ return("date '" ~ value ~ "'") }}
{%- endmacro %}
