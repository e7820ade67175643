{#- Units and revenue per store, product and business day (local), from completed orders only. -#}

{# a table, not a view: its five tests and fct_daily_sales would each recompute the aggregation #}
{{ config(materialized='table') }}

with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

business_days as (
    select * from {{ ref('int_orders_business_dated') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

completed_lines as (
    select
        orders.store_id,
        order_items.product_id,
        business_days.business_date,
        orders.order_id,
        order_items.quantity,
        order_items.quantity * order_items.unit_price_usd as revenue_usd
    from order_items
    inner join orders on order_items.order_id = orders.order_id
    inner join business_days on orders.order_id = business_days.order_id
    where orders.order_status = 'completed'
),

final as (
    select
        store_id,
        product_id,
        business_date as sales_date,
        cast(sum(quantity) as bigint) as units_sold,
        count(distinct order_id) as order_count,
        cast(sum(revenue_usd) as decimal(18, 2)) as revenue_usd
    from completed_lines
    group by store_id, product_id, business_date
)

select * from final
