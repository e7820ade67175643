{#- One row per authorized payment: what the fraud champion said about it (score, flag) and what
    happened afterwards (chargebacks), and whether its label has matured: the payment is older than
    the label window (fraud_label_maturity_days) counted back from the newest payment. The fraud
    semantic model's table: chargeback rate, fraud loss rate and the review queue's precision and
    recall are measured on it. -#}
with payments as (
    select * from {{ ref('fct_payments') }}
),

scores as (
    select * from {{ ref('stg_ml__payment_fraud_scores') }}
),

chargebacks as (
    select * from {{ ref('int_chargebacks_aggregated_to_payments') }}
),

authorized as (
    select * from payments
    where is_authorized
),

label_horizon as (
    select
        -- an interval, not dbt.dateadd: dbt-spark's date_add drops the time of day
        max(paid_at) - interval {{ var('fraud_label_maturity_days') }} day as matured_until
    from payments
),

final as (
    select
        authorized.payment_id,
        authorized.paid_at,
        authorized.paid_date,
        authorized.store_id,
        authorized.customer_id,
        authorized.channel,
        authorized.amount_usd,
        scores.fraud_score,
        scores.is_flagged,
        scores.model_version,
        coalesce(chargebacks.chargeback_count, 0) as chargeback_count,
        coalesce(chargebacks.fraud_chargeback_count > 0, false) as has_fraud_chargeback,
        case
            when chargebacks.fraud_chargeback_count > 0 then authorized.amount_usd
            else 0
        end as fraud_loss_usd,
        authorized.paid_at <= label_horizon.matured_until as is_label_matured
    from authorized
    cross join label_horizon
    left join scores on authorized.payment_id = scores.payment_id
    left join chargebacks on authorized.payment_id = chargebacks.payment_id
)

select * from final
