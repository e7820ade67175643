{{ config(materialized='table') }}

{%- set rules = required_column_rules(['device_id', 'first_seen_at_raw']) + [
    ['not ' ~ has_utc_offset('first_seen_at_raw'), 'timestamp_without_timezone'],
    ['first_seen_at is null', 'invalid_timestamp'],
] %}

with source as (
    select * from {{ source('payments', 'devices') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        device_id,
        lower(trim(device_type)) as device_type,
        os,
        first_seen_at as first_seen_at_raw,
        {{ to_utc_timestamp('first_seen_at') }} as first_seen_at
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
        {{ is_resent_duplicate(['device_id']) }} as _is_duplicate
    from classified
)

select * from final
