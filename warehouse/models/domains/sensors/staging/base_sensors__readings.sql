{{ config(materialized='table') }}

{%- set rules = required_column_rules(['machine_id', 'read_at_raw']) + [
    ['has_failed is null', 'missing_required_field:failed'],
    ['not ' ~ has_utc_offset('read_at_raw'), 'timestamp_without_timezone'],
    ['read_at is null', 'invalid_timestamp'],
    ['runtime_hours < 0 or runtime_hours > 24', 'runtime_hours_out_of_range'],
] %}

with source as (
    select * from {{ source('sensors', 'readings') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        machine_id,
        lower(trim(machine_type)) as machine_type,
        read_at as read_at_raw,
        {{ to_utc_timestamp('read_at') }} as read_at,
        temperature_c,
        vibration_mm_s,
        pressure_bar,
        runtime_hours,
        failed as has_failed
    from source
),

classified as (
    select
        *,
        {{ first_failed_rule(rules) }} as _dq_reason
    from typed
),

final as (
    select
        *,
        {{ is_resent_duplicate(['machine_id', 'cast(read_at as date)']) }} as _is_duplicate
    from classified
)

select * from final
