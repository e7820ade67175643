{#- One row per store, product and day on promotion. A promotion without a store applies to every
    store; where promotions overlap, the deepest discount wins. -#}
with promotions as (
    select * from {{ ref('stg_marketing__promotions') }}
),

stores as (
    select * from {{ ref('stores') }}
),

promotion_stores as (
    select
        promotions.promotion_id,
        promotions.product_id,
        stores.store_id,
        promotions.starts_on,
        promotions.ends_on,
        promotions.discount_pct
    from promotions
    inner join stores
        on promotions.store_id = stores.store_id or promotions.is_all_stores
),

promotion_days as (
    select
        promotion_id,
        product_id,
        store_id,
        discount_pct,
        {{ date_series('starts_on', 'ends_on') }} as promotion_date
    from promotion_stores
),

final as (
    select
        store_id,
        product_id,
        promotion_date,
        max(discount_pct) as discount_pct,
        count(*) as promotion_count
    from promotion_days
    group by store_id, product_id, promotion_date
)

select * from final
