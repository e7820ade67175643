with base as (
    select * from {{ ref('base_catalog__products') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        product_id,
        product_name,
        category_id,
        brand,
        launched_on,
        list_price as launch_list_price_usd,
        _loaded_on as loaded_on
    from base
)

select * from final
