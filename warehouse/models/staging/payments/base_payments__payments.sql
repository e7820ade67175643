{{
    config(
        materialized='incremental',
        unique_key=['_source_file', '_source_row_number'],
        partition_by=landing_day_partitions(),
    )
}}

{%- set rules = required_column_rules([
    'payment_id', 'order_id', 'card_fingerprint', 'amount', 'currency', 'paid_at_raw', 'channel',
    'payment_status',
]) + [
    ['not ' ~ has_utc_offset('paid_at_raw'), 'timestamp_without_timezone'],
    ['paid_at is null', 'invalid_timestamp'],
    [is_after_export('paid_at'), 'timestamp_after_export'],
    ['usd_per_unit is null', 'unknown_currency'],
    ['amount <= 0', 'non_positive_amount'],
    ['amount_usd > ' ~ var('max_payment_usd'), 'absurd_amount'],
    ["channel not in ('online', 'in_store')", 'invalid_channel'],
    ["payment_status not in ('authorized', 'declined')", 'invalid_payment_status'],
    ['not has_known_order', 'orphan_order_id'],
] %}

{#- the keys whose copies are classified together, and the loaded rows to classify again -#}
{%- set reclassified = {'keys': ['payment_id'], 'recheck': 'not has_known_order'} %}

with source as (
    select * from {{ source('payments', 'payments') }}
    where {{ landing_files_to_load(source('payments', 'payments')) }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

landed as (
    select
        {{ parquet_lineage_columns() }},
        payment_id,
        order_id,
        customer_id,
        card_fingerprint,
        device_id,
        try_cast(amount as decimal(12, 2)) as amount,
        upper(trim(currency)) as currency,
        paid_at as paid_at_raw,
        {{ to_utc_timestamp('paid_at') }} as paid_at,
        lower(trim(channel)) as channel,
        cast(merchant_category_code as string) as merchant_category_code,
        upper(trim(ip_country)) as ip_country,
        lower(trim(payment_status)) as payment_status
    from source
),

-- the new rows, and the loaded rows whose classification they can change
typed as (
    {{ rows_to_classify(
        'landed',
        derived=['usd_per_unit', 'amount_usd', 'has_known_order'],
        **reclassified,
    ) }}
),

converted as (
    select
        typed.*,
        currencies.usd_per_unit,
        {{ to_usd('typed.amount', 'currencies.usd_per_unit') }} as amount_usd,
        {{ is_in('typed.order_id', 'orders', 'order_id') }} as has_known_order
    from typed
    left join currencies on typed.currency = currencies.currency_code
),

classified as (
    select
        *,
        {{ first_failed_rule(rules) }} as _dq_reason
    from converted
),

final as (
    select
        *,
        {{ is_resent_duplicate(['payment_id']) }} as _is_duplicate
    from classified
)

select * from final
{{ landing_days_written('landed', **reclassified) }}
