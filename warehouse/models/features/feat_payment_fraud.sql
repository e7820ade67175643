{#- One row per payment attempt, with features that use only what was known when it was made:
    trailing-window velocity per card, device and customer (the current payment included, later
    ones never), novelty of the device and card for the customer, the customer's country as of the
    payment (ASOF join on account versions), account age, and the amount against the customer's
    history. The label columns (fraud_chargeback_at) are kept apart from the features: the trainer
    decides which labels were known at its cutoff. -#}
with payments as (
    select * from {{ ref('fct_payments') }}
),

chargebacks as (
    select * from {{ ref('int_chargebacks_aggregated_to_payments') }}
),

customer_versions as (
    select * from {{ ref('stg_crm__customers') }}
),

customer_first_seen as (
    select
        customer_id,
        min(signed_up_at) as signed_up_at
    from customer_versions
    group by customer_id
),

velocity as (
    select
        payment_id,
        count(*) over card_1h as card_payments_1h,
        count(*) over card_24h as card_payments_24h,
        count(*) over card_7d as card_payments_7d,
        sum(amount_usd) over card_24h as card_amount_usd_24h,
        count(*) over device_1h as device_payments_1h,
        count(*) over device_24h as device_payments_24h,
        count(distinct card_fingerprint) over device_24h as device_distinct_cards_24h,
        count(distinct customer_id) over device_7d as device_distinct_customers_7d,
        count(*) filter (where not is_authorized) over device_24h as device_declines_24h,
        count(*) over customer_24h as customer_payments_24h,
        avg(amount_usd) over customer_prior_30d as customer_avg_amount_usd_30d,
        count(*) over customer_prior_30d as customer_payments_prior_30d,
        row_number() over (partition by customer_id, device_id order by paid_at, payment_id) = 1
            as is_first_use_of_device_by_customer,
        row_number() over (partition by customer_id, card_fingerprint order by paid_at, payment_id) = 1
            as is_first_use_of_card_by_customer,
        min(paid_at) over (partition by card_fingerprint) as card_first_paid_at
    from payments
    window
        card_1h as (
            partition by card_fingerprint order by paid_at
            range between interval 1 hour preceding and current row
        ),
        card_24h as (
            partition by card_fingerprint order by paid_at
            range between interval 1 day preceding and current row
        ),
        card_7d as (
            partition by card_fingerprint order by paid_at
            range between interval 7 day preceding and current row
        ),
        device_1h as (
            partition by device_id order by paid_at
            range between interval 1 hour preceding and current row
        ),
        device_24h as (
            partition by device_id order by paid_at
            range between interval 1 day preceding and current row
        ),
        device_7d as (
            partition by device_id order by paid_at
            range between interval 7 day preceding and current row
        ),
        customer_24h as (
            partition by customer_id order by paid_at
            range between interval 1 day preceding and current row
        ),
        customer_prior_30d as (
            partition by customer_id order by paid_at
            range between interval 30 day preceding and interval 1 microsecond preceding
        )
),

with_country as (
    select
        payments.payment_id,
        customer_versions.country_code as customer_country_code
    from payments
    asof left join customer_versions
        on payments.customer_id = customer_versions.customer_id
            and payments.paid_at >= customer_versions.updated_at
),

final as (
    select
        payments.payment_id,
        payments.paid_at,
        payments.loaded_on,
        payments.customer_id,
        payments.is_authorized,
        payments.amount_usd,
        payments.channel,
        payments.merchant_category_code,
        payments.is_high_risk_merchant_category,
        hour(payments.paid_at) as paid_hour_utc,
        payments.ip_country,
        with_country.customer_country_code,
        payments.ip_country is not null
        and with_country.customer_country_code is not null
        and payments.ip_country <> with_country.customer_country_code as is_ip_country_mismatch,
        date_diff('day', customer_first_seen.signed_up_at, payments.paid_at) as account_age_days,
        date_diff('day', velocity.card_first_paid_at, payments.paid_at) as card_age_days,
        velocity.card_payments_1h,
        velocity.card_payments_24h,
        velocity.card_payments_7d,
        velocity.card_amount_usd_24h,
        case when payments.device_id is not null then velocity.device_payments_1h end as device_payments_1h,
        case when payments.device_id is not null then velocity.device_payments_24h end as device_payments_24h,
        case when payments.device_id is not null then velocity.device_distinct_cards_24h end
            as device_distinct_cards_24h,
        case when payments.device_id is not null then velocity.device_distinct_customers_7d end
            as device_distinct_customers_7d,
        case when payments.device_id is not null then velocity.device_declines_24h end as device_declines_24h,
        case when payments.customer_id is not null then velocity.customer_payments_24h end
            as customer_payments_24h,
        case when payments.customer_id is not null then velocity.customer_payments_prior_30d end
            as customer_payments_prior_30d,
        case when payments.customer_id is not null then velocity.customer_avg_amount_usd_30d end
            as customer_avg_amount_usd_30d,
        case when payments.customer_id is not null
                then payments.amount_usd / nullif(velocity.customer_avg_amount_usd_30d, 0)
        end as amount_vs_customer_avg,
        payments.device_id is not null and velocity.is_first_use_of_device_by_customer as is_new_device,
        payments.customer_id is not null and velocity.is_first_use_of_card_by_customer as is_new_card,
        chargebacks.first_fraud_chargeback_at as fraud_chargeback_at
    from payments
    inner join velocity on payments.payment_id = velocity.payment_id
    inner join with_country on payments.payment_id = with_country.payment_id
    left join customer_first_seen on payments.customer_id = customer_first_seen.customer_id
    left join chargebacks on payments.payment_id = chargebacks.payment_id
)

select * from final
