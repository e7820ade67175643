with base as (
    select * from {{ ref('base_shop__order_items') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        order_id || '-' || line_number as order_item_id,
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        currency,
        unit_price_usd,
        _loaded_on as loaded_on
    from base
)

select * from final
