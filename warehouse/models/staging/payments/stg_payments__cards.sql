with base as (
    select * from {{ ref('base_payments__cards') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        card_fingerprint,
        customer_id,
        card_brand,
        card_type,
        issuing_country,
        first_seen_at,
        _loaded_on as loaded_on
    from base
)

select * from final
