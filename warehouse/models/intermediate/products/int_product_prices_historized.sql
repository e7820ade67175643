{#- One row per product and price period: the launch price, then every change, each valid until
    the day before the next one (valid_to is null for the price in effect now). -#}
with products as (
    select * from {{ ref('stg_catalog__products') }}
),

price_changes as (
    select * from {{ ref('stg_catalog__product_prices') }}
),

launch_prices as (
    select
        product_id,
        launch_list_price_usd as list_price_usd,
        launched_on as valid_from
    from products
),

changed_prices as (
    select
        product_id,
        list_price_usd,
        valid_from
    from price_changes
),

-- a change recorded for the launch day itself supersedes the launch price
all_prices as (
    select * from changed_prices
    union all
    select launch_prices.*
    from launch_prices
    where not exists (
            select 1
            from changed_prices
            where changed_prices.product_id = launch_prices.product_id
                and changed_prices.valid_from = launch_prices.valid_from
        )
),

final as (
    select
        product_id || '@' || {{ format_timestamp('valid_from', '%Y-%m-%d') }} as product_price_id,
        product_id,
        list_price_usd,
        valid_from,
        lead(valid_from) over (partition by product_id order by valid_from) - 1 as valid_to
    from all_prices
)

select * from final
