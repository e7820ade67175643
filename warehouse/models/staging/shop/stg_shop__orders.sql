with base as (
    select * from {{ ref('base_shop__orders') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        order_id,
        customer_id,
        store_id,
        channel,
        ordered_at,
        cast(ordered_at as date) as ordered_date,
        order_status,
        _loaded_on as loaded_on
    from base
)

select * from final
