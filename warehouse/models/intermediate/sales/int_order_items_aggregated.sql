{#- One row per order that has at least one valid line: its size and total. -#}
with order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

final as (
    select
        order_id,
        count(*) as line_count,
        cast(sum(quantity) as bigint) as units,
        cast(sum(quantity * unit_price) as decimal(18, 2)) as order_total,
        min(currency) as currency,
        count(distinct currency) as currency_count,
        cast(sum(quantity * unit_price_usd) as decimal(18, 2)) as order_total_usd
    from order_items
    group by order_id
)

select * from final
