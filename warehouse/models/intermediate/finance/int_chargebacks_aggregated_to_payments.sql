{#- One row per payment that received at least one chargeback: when the first (and the first fraud)
    chargeback arrived. The fraud label's source for features and for the review queue. -#}
with chargebacks as (
    select * from {{ ref('fct_chargebacks') }}
),

final as (
    select
        payment_id,
        count(*) as chargeback_count,
        count(*) filter (where is_fraud) as fraud_chargeback_count,
        min(received_at) as first_chargeback_at,
        min(received_at) filter (where is_fraud) as first_fraud_chargeback_at
    from chargebacks
    group by payment_id
)

select * from final
