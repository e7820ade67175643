{#- One row per payment attempt, with features that use only what was known when it was made:
    trailing-window velocity per card, device and customer (the current payment included, later
    ones never), novelty of the device and card for the customer, the customer's country as of the
    payment (ASOF join on account versions), account age, and the amount against the customer's
    history. The label columns (fraud_chargeback_at) are kept apart from the features: the trainer
    decides which labels were known at its cutoff. The windows are declared once in
    var('payment_fraud_windows'); the online feature store (ml/features) computes every feature here
    from the same declaration, and its parity test holds it to this table. -#}
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

trailing_windows as (
    -- the declared windows (var payment_fraud_windows), shared with the online feature store
    select
        payment_id,
        {{ payment_fraud_window_columns() }}
    from payments
),

first_uses as (
    select
        payment_id,
        row_number() over (partition by customer_id, device_id order by paid_at, payment_id) = 1
            as is_first_use_of_device_by_customer,
        row_number() over (partition by customer_id, card_fingerprint order by paid_at, payment_id) = 1
            as is_first_use_of_card_by_customer,
        min(paid_at) over (partition by card_fingerprint) as card_first_paid_at
    from payments
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
        date_diff('day', first_uses.card_first_paid_at, payments.paid_at) as card_age_days,
        {{ payment_fraud_window_names('trailing_windows') }},
        case when payments.customer_id is not null
                then payments.amount_usd / nullif(trailing_windows.customer_avg_amount_usd_30d, 0)
        end as amount_vs_customer_avg,
        payments.device_id is not null and first_uses.is_first_use_of_device_by_customer as is_new_device,
        payments.customer_id is not null and first_uses.is_first_use_of_card_by_customer as is_new_card,
        chargebacks.first_fraud_chargeback_at as fraud_chargeback_at
    from payments
    inner join trailing_windows on payments.payment_id = trailing_windows.payment_id
    inner join first_uses on payments.payment_id = first_uses.payment_id
    inner join with_country on payments.payment_id = with_country.payment_id
    left join customer_first_seen on payments.customer_id = customer_first_seen.customer_id
    left join chargebacks on payments.payment_id = chargebacks.payment_id
)

select * from final
