{#- One row per order. Incremental: every order is computed (a late item changes its totals, a late
    account version its business day) and only the rows that changed are written
    (macros/incremental_changes.sql). -#}
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        post_hook="{{ delete_rows_missing_from('order_id', ref('stg_shop__orders')) }}",
    )
}}

with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_totals as (
    select * from {{ ref('int_order_items_aggregated') }}
),

business_days as (
    select * from {{ ref('int_orders_business_dated') }}
),

orders_with_totals as (
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
),

final as (
    {{ rows_not_in_table('orders_with_totals') }}
)

select * from final
