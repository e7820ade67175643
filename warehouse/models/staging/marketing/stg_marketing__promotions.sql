with base as (
    select * from {{ ref('base_marketing__promotions') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        promotion_id,
        product_id,
        store_id,
        store_id is null as is_all_stores,
        starts_on,
        ends_on,
        discount_pct,
        _loaded_on as loaded_on
    from base
)

select * from final
