with source as (
    select * from {{ source('ml', 'payment_fraud_scores') }}
),

final as (
    select
        payment_id,
        fraud_score,
        operating_threshold,
        is_flagged,
        reason_codes,
        model_version,
        scored_at
    from source
)

select * from final
