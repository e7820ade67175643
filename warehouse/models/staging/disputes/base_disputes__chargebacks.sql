{{ config(materialized='table') }}

{%- set rules = [['_is_malformed', 'malformed_csv_line']] + required_column_rules([
    'chargeback_id', 'payment_id', 'received_at_raw', 'reason_code', 'amount_raw', 'currency',
]) + [
    ['not ' ~ has_utc_offset('received_at_raw'), 'timestamp_without_timezone'],
    ['received_at is null', 'invalid_timestamp'],
    [is_after_export('received_at'), 'timestamp_after_export'],
    ['amount is null', 'invalid_amount'],
    ['amount <= 0', 'non_positive_amount'],
    ['usd_per_unit is null', 'unknown_currency'],
    ['not has_known_reason', 'unknown_reason_code'],
    ['not has_known_payment', 'orphan_payment_id'],
] %}

with source as (
    select * from {{ source('disputes', 'chargebacks') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

reasons as (
    select * from {{ ref('chargeback_reasons') }}
),

payments as (
    select * from {{ ref('stg_payments__payments') }}
),

parsed as (
    {{ parse_csv_lines('source', [
        'chargeback_id', 'payment_id', 'received_at', 'reason_code', 'amount', 'currency',
    ]) }}
),

typed as (
    select
        _source_file,
        _loaded_on,
        _source_row_number,
        _source_row,
        _is_malformed,
        chargeback_id,
        payment_id,
        received_at as received_at_raw,
        {{ to_utc_timestamp('received_at') }} as received_at,
        reason_code,
        amount as amount_raw,
        try_cast(amount as decimal(12, 2)) as amount,
        upper(trim(currency)) as currency
    from parsed
),

checked as (
    select
        typed.*,
        currencies.usd_per_unit,
        {{ to_usd('typed.amount', 'currencies.usd_per_unit') }} as amount_usd,
        {{ is_in('typed.reason_code', 'reasons', 'reason_code') }} as has_known_reason,
        {{ is_in('typed.payment_id', 'payments', 'payment_id') }} as has_known_payment
    from typed
    left join currencies on typed.currency = currencies.currency_code
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
        {{ is_resent_duplicate(['chargeback_id']) }} as _is_duplicate
    from classified
)

select * from final
