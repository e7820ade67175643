{#- One row per store, product and business day (the store's local day; the customer's for the
    online shop), zero-filled: every day from the first to the last sales day, for every store from
    its first recorded sale and every product from its launch day. -#}
with stores as (
    select * from {{ ref('stores') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

daily_sales as (
    select * from {{ ref('int_order_items_summed_daily') }}
),

prices as (
    select * from {{ ref('int_product_prices_historized') }}
),

promotions as (
    select * from {{ ref('int_promotions_exploded') }}
),

holidays as (
    select * from {{ ref('holidays') }}
),

store_first_sales as (
    select
        store_id,
        min(sales_date) as first_sales_date
    from daily_sales
    group by store_id
),

date_spine as (
    select {{ date_series('min(sales_date)', 'max(sales_date)') }} as sales_date
    from daily_sales
),

store_product_days as (
    select
        date_spine.sales_date,
        stores.store_id,
        stores.country_code,
        stores.store_type,
        products.product_id
    from date_spine
    inner join store_first_sales on date_spine.sales_date >= store_first_sales.first_sales_date
    inner join stores on store_first_sales.store_id = stores.store_id
    inner join products on date_spine.sales_date >= products.launched_on
),

final as (
    select
        store_product_days.sales_date,
        store_product_days.store_id,
        store_product_days.product_id,
        coalesce(daily_sales.units_sold, 0) as units_sold,
        coalesce(daily_sales.order_count, 0) as order_count,
        cast(coalesce(daily_sales.revenue_usd, 0) as decimal(18, 2)) as revenue_usd,
        prices.list_price_usd,
        coalesce(promotions.discount_pct, 0) as discount_pct,
        promotions.product_id is not null as is_on_promotion,
        -- the online shop sells everywhere, so it has no single country's holidays
        holidays.holiday_date is not null as is_holiday,
        holidays.holiday_name
    from store_product_days
    left join daily_sales
        on store_product_days.store_id = daily_sales.store_id
            and store_product_days.product_id = daily_sales.product_id
            and store_product_days.sales_date = daily_sales.sales_date
    left join prices
        on store_product_days.product_id = prices.product_id
            and store_product_days.sales_date >= prices.valid_from
            and (prices.valid_to is null or store_product_days.sales_date <= prices.valid_to)
    left join promotions
        on store_product_days.store_id = promotions.store_id
            and store_product_days.product_id = promotions.product_id
            and store_product_days.sales_date = promotions.promotion_date
    left join holidays
        on store_product_days.country_code = holidays.country_code
            and store_product_days.sales_date = holidays.holiday_date
            and store_product_days.store_type = 'physical'
)

select * from final
