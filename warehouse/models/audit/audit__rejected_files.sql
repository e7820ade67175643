{{ config(schema='quarantine', alias='rejected_files') }}

{#- Files the landing inventory could not read as a whole (zero bytes, corrupt parquet, CSV that is
    not UTF-8), moved out of the landing zone with a record each. Empty (with its columns) until
    the first rejection: the records are globbed at run time, not at parse time. -#}
{%- set records = var('rejected_dir') ~ '/*/*/*/*.rejection.parquet' %}
{%- set found = 0 %}
{%- if execute %}
    {%- set found = run_query("select count(*) from glob('" ~ records ~ "')").columns[0].values()[0] %}
{%- endif %}

with
{% if found > 0 %}
    records as (
        select * from read_parquet('{{ records }}', union_by_name = true)
    ),
{% else %}
    records as (
        select
            cast(null as string) as source_system,
            cast(null as string) as source_table,
            cast(null as string) as landing_file,
            cast(null as string) as rejected_file,
            null::date as loaded_on,
            null::bigint as bytes,
            cast(null as string) as reason,
            cast(null as string) as detail,
            null::timestamp as rejected_at
        where false
    ),
{% endif %}

final as (
    select
        source_system,
        source_table,
        landing_file,
        rejected_file,
        loaded_on,
        bytes,
        reason,
        detail,
        rejected_at
    from records
)

select * from final
