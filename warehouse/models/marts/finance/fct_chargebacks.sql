with chargebacks as (
    select * from {{ ref('stg_disputes__chargebacks') }}
),

reasons as (
    select * from {{ ref('chargeback_reasons') }}
),

payments as (
    select * from {{ ref('stg_payments__payments') }}
),

final as (
    select
        chargebacks.chargeback_id,
        chargebacks.payment_id,
        chargebacks.received_at,
        chargebacks.received_date,
        chargebacks.reason_code,
        reasons.card_network,
        reasons.description as reason_description,
        reasons.is_fraud,
        chargebacks.amount,
        chargebacks.currency,
        chargebacks.amount_usd,
        payments.paid_at,
        {{ days_between('payments.paid_at', 'chargebacks.received_at') }} as days_after_payment,
        chargebacks.loaded_on
    from chargebacks
    inner join reasons on chargebacks.reason_code = reasons.reason_code
    inner join payments on chargebacks.payment_id = payments.payment_id
)

select * from final
