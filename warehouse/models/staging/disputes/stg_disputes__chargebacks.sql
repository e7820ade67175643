with base as (
    select * from {{ ref('base_disputes__chargebacks') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        chargeback_id,
        payment_id,
        received_at,
        cast(received_at as date) as received_date,
        reason_code,
        amount,
        currency,
        amount_usd,
        _loaded_on as loaded_on
    from base
)

select * from final
