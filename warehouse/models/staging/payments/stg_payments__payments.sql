with base as (
    select * from {{ ref('base_payments__payments') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        payment_id,
        order_id,
        customer_id,
        card_fingerprint,
        device_id,
        amount,
        currency,
        amount_usd,
        paid_at,
        cast(paid_at as date) as paid_date,
        channel,
        merchant_category_code,
        ip_country,
        payment_status,
        payment_status = 'authorized' as is_authorized,
        _loaded_on as loaded_on
    from base
)

select * from final
