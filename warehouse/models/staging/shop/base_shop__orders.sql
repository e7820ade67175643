{{
    config(
        materialized='incremental',
        unique_key=['_source_file', '_source_row_number'],
        partition_by=landing_day_partitions(),
    )
}}

{%- set rules = required_column_rules([
    'order_id', 'store_id', 'channel', 'ordered_at_raw', 'order_status',
]) + [
    ['not ' ~ has_utc_offset('ordered_at_raw'), 'timestamp_without_timezone'],
    ['ordered_at is null', 'invalid_timestamp'],
    [is_after_export('ordered_at'), 'timestamp_after_export'],
    ["channel not in ('online', 'in_store')", 'invalid_channel'],
    ["order_status not in ('completed', 'payment_failed')", 'invalid_order_status'],
    ['not has_known_store', 'orphan_store_id'],
] %}

{#- the keys whose copies are classified together, and the loaded rows to classify again -#}
{%- set reclassified = {'keys': ['order_id'], 'recheck': 'false'} %}

with source as (
    select * from {{ source('shop', 'orders') }}
    where {{ landing_files_to_load(source('shop', 'orders')) }}
),

stores as (
    select * from {{ ref('stores') }}
),

landed as (
    select
        {{ parquet_lineage_columns() }},
        order_id,
        customer_id,
        store_id,
        lower(trim(channel)) as channel,
        ordered_at as ordered_at_raw,
        {{ to_utc_timestamp('ordered_at') }} as ordered_at,
        lower(trim(order_status)) as order_status
    from source
),

-- the new rows, and the loaded rows whose classification they can change
typed as (
    {{ rows_to_classify('landed', derived=['has_known_store'], **reclassified) }}
),

checked as (
    select
        *,
        {{ is_in('store_id', 'stores', 'store_id') }} as has_known_store
    from typed
),

classified as (
    select
        *,
        {{ first_failed_rule(rules) }} as _dq_reason
    from checked
),

final as (
    select
        *,
        {{ is_resent_duplicate(['order_id']) }} as _is_duplicate
    from classified
)

select * from final
{{ landing_days_written('landed', **reclassified) }}
