with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_totals as (
    select * from {{ ref('int_order_items_aggregated') }}
),

business_days as (
    select * from {{ ref('int_orders_business_dated') }}
),

final as (
    select
        orders.order_id,
        orders.customer_id,
        orders.store_id,
        orders.channel,
        orders.ordered_at,
        orders.ordered_date,
        business_days.business_date,
        orders.order_status,
        orders.order_status = 'completed' as is_completed,
        coalesce(order_totals.line_count, 0) as line_count,
        coalesce(order_totals.units, 0) as units,
        order_totals.currency,
        coalesce(order_totals.order_total, 0) as order_total,
        coalesce(order_totals.order_total_usd, 0) as order_total_usd,
        orders.loaded_on
    from orders
    left join order_totals on orders.order_id = order_totals.order_id
    inner join business_days on orders.order_id = business_days.order_id
)

select * from final
