{{ config(materialized='table') }}

{%- set rules = required_column_rules(['card_fingerprint', 'card_brand', 'first_seen_at_raw']) + [
    ['not ' ~ regex_full_match('card_fingerprint', '[0-9a-f]{64}'), 'invalid_card_fingerprint'],
    ['not ' ~ has_utc_offset('first_seen_at_raw'), 'timestamp_without_timezone'],
    ['first_seen_at is null', 'invalid_timestamp'],
    ["card_brand not in ('visa', 'mastercard', 'amex')", 'invalid_card_brand'],
] %}

with source as (
    select * from {{ source('payments', 'cards') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        lower(trim(card_fingerprint)) as card_fingerprint,
        customer_id,
        lower(trim(card_brand)) as card_brand,
        lower(trim(card_type)) as card_type,
        upper(trim(issuing_country)) as issuing_country,
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
        {{ is_resent_duplicate(['card_fingerprint']) }} as _is_duplicate
    from classified
)

select * from final
