{#- One row per customer. Customers seen in orders or payments whose account record never arrived
    (or was quarantined) are kept as inferred members, so every fact has its dimension row. -#}
with customers as (
    select * from {{ ref('int_customers_collapsed') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

payments as (
    select * from {{ ref('stg_payments__payments') }}
),

referenced_customer_ids as (
    select customer_id from orders
    where customer_id is not null
    union
    select customer_id from payments
    where customer_id is not null
),

inferred_customers as (
    select
        referenced_customer_ids.customer_id,
        cast(null as string) as email_hash,
        cast(null as string) as email_domain,
        cast(null as string) as phone_masked,
        cast(null as string) as country_code,
        cast(null as timestamp) as signed_up_at,
        cast(null as timestamp) as updated_at,
        false as is_marketing_opt_in,
        0 as version_count,
        true as is_inferred
    from referenced_customer_ids
    where referenced_customer_ids.customer_id not in (select customers.customer_id from customers)
),

known_customers as (
    select
        customer_id,
        email_hash,
        email_domain,
        phone_masked,
        country_code,
        signed_up_at,
        updated_at,
        is_marketing_opt_in,
        version_count,
        false as is_inferred
    from customers
),

final as (
    select * from known_customers
    union all
    select * from inferred_customers
)

select * from final
