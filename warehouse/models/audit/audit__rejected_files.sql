{{ config(schema='quarantine', alias='rejected_files') }}

{#- Files the landing inventory could not read as a whole (zero bytes, corrupt parquet, CSV that is
    not UTF-8), moved out of the landing zone with a record each. Empty (with its columns) until
    the first rejection: the records are globbed at run time, not at parse time. -#}
with records as (
    {{ rejection_records(var('rejected_dir')) }}
),

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
