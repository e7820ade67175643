{#- One row per order with its business day: the local calendar day of the store for in-store
    orders, and of the customer's country (as of the order) for online orders. Daily sales and
    demand are counted per business day, not per UTC day, so an evening sale in Los Angeles stays
    on the day it happened. -#}

{# a table, not a view: its five tests and two models would each recompute the ASOF join.
   Incremental: every order's business time zone is found again (a late account version can move
   one), and the local day, the costly part (a time zone per row), is computed and written only for
   orders that are new or whose time zone or time changed. #}
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

stores as (
    select * from {{ ref('stores') }}
),

countries as (
    select * from {{ ref('countries') }}
),

customer_versions as (
    select * from {{ ref('stg_crm__customers') }}
),

orders_with_customer_country as (
    {{ asof_left_join(
        'orders', 'customer_versions', 'customer_versions', keys=['customer_id'],
        left_time='ordered_at', op='>=', right_time='updated_at',
        columns=[
            'orders.order_id', 'orders.store_id', 'orders.channel', 'orders.ordered_at',
            'customer_versions.country_code as customer_country_code',
        ],
        left_id=['order_id'],
    ) }}
),

zoned as (
    select
        orders_with_customer_country.order_id,
        orders_with_customer_country.ordered_at,
        coalesce(
            case when orders_with_customer_country.channel = 'online' then countries.timezone end,
            stores.timezone
        ) as business_timezone
    from orders_with_customer_country
    inner join stores on orders_with_customer_country.store_id = stores.store_id
    left join countries on orders_with_customer_country.customer_country_code = countries.country_code
),

{% if is_incremental() %}
    dated as (
        select * from {{ this }}
    ),

    to_date as (
        select zoned.*
        from zoned
        left join dated
            on
                zoned.order_id = dated.order_id
                and zoned.ordered_at = dated.ordered_at
                and zoned.business_timezone = dated.business_timezone
        where dated.order_id is null
    ),
{% else %}
    to_date as (
        select * from zoned
    ),
{% endif %}

final as (
    select
        order_id,
        ordered_at,
        business_timezone,
        {{ local_date('ordered_at', 'business_timezone') }} as business_date
    from to_date
)

select * from final
