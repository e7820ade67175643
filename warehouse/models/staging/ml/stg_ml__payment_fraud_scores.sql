{# The relationship test to fct_payments runs in the same dbt step as this model (after scoring). #}
-- depends_on: {{ ref('fct_payments') }}
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
