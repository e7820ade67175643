{{
    config(
        materialized='incremental',
        unique_key='payment_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- One row per payment attempt. Incremental by load day: a run adds the landing days not loaded
    yet (late rows land in a later day and are picked up with it). -#}
with staged_payments as (
    select * from {{ ref('stg_payments__payments') }}
),

{% if is_incremental() %}
    already_loaded as (
        select coalesce(max(loaded_on), date '1900-01-01') as max_loaded_on
        from {{ this }}
    ),
{% endif %}

payments as (
    select staged_payments.*
    from staged_payments
    {% if is_incremental() %}
        inner join already_loaded on staged_payments.loaded_on > already_loaded.max_loaded_on
    {% endif %}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

merchant_categories as (
    select * from {{ ref('merchant_categories') }}
),

final as (
    select
        payments.payment_id,
        payments.order_id,
        payments.customer_id,
        orders.store_id,
        payments.card_fingerprint,
        payments.device_id,
        payments.amount,
        payments.currency,
        payments.amount_usd,
        payments.paid_at,
        payments.paid_date,
        payments.channel,
        payments.merchant_category_code,
        coalesce(merchant_categories.is_high_risk, false) as is_high_risk_merchant_category,
        payments.ip_country,
        payments.payment_status,
        payments.is_authorized,
        payments.loaded_on
    from payments
    left join orders on payments.order_id = orders.order_id
    left join merchant_categories
        on payments.merchant_category_code = merchant_categories.merchant_category_code
)

select * from final
