with products as (
    select * from {{ ref('stg_catalog__products') }}
),

categories as (
    select * from {{ ref('product_categories') }}
),

prices as (
    select * from {{ ref('int_product_prices_historized') }}
),

price_summary as (
    select
        product_id,
        {{ value_at_max('list_price_usd', 'valid_from') }} as current_list_price_usd,
        count(*) - 1 as price_change_count
    from prices
    group by product_id
),

final as (
    select
        products.product_id,
        products.product_name,
        products.category_id,
        categories.category_name,
        categories.department,
        products.brand,
        products.launched_on,
        products.launch_list_price_usd,
        price_summary.current_list_price_usd,
        price_summary.price_change_count
    from products
    left join categories on products.category_id = categories.category_id
    left join price_summary on products.product_id = price_summary.product_id
)

select * from final
