{#- One row per payment the fraud champion flags (score at or above its operating threshold), with
    the context a reviewer needs, PII masked, and why the model flagged it. -#}
with scores as (
    select * from {{ ref('stg_ml__payment_fraud_scores') }}
),

payments as (
    select * from {{ ref('fct_payments') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

chargebacks as (
    select * from {{ ref('int_chargebacks_aggregated_to_payments') }}
),

flagged as (
    select * from scores
    where is_flagged
),

final as (
    select
        flagged.payment_id,
        payments.paid_at,
        payments.channel,
        payments.amount,
        payments.currency,
        payments.amount_usd,
        payments.merchant_category_code,
        payments.ip_country,
        payments.customer_id,
        customers.country_code as customer_country_code,
        customers.email_domain as customer_email_domain,
        customers.phone_masked as customer_phone_masked,
        {{ days_between('customers.signed_up_at', 'payments.paid_at') }} as account_age_days,
        flagged.fraud_score,
        flagged.operating_threshold,
        {{ join_list('flagged.reason_codes', ', ') }} as reason_codes,
        chargebacks.first_fraud_chargeback_at as fraud_chargeback_at,
        coalesce(chargebacks.fraud_chargeback_count > 0, false) as has_fraud_chargeback,
        flagged.model_version,
        flagged.scored_at
    from flagged
    inner join payments on flagged.payment_id = payments.payment_id
    left join customers on payments.customer_id = customers.customer_id
    left join chargebacks on flagged.payment_id = chargebacks.payment_id
)

select * from final
