with base as (
    select * from {{ ref('base_catalog__product_prices') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        product_id || '@' || {{ format_timestamp('valid_from', '%Y-%m-%d') }} as product_price_id,
        product_id,
        list_price as list_price_usd,
        valid_from,
        _loaded_on as loaded_on
    from base
)

select * from final
