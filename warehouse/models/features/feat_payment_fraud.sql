{{
    config(
        materialized='incremental',
        unique_key='payment_id',
        post_hook="{{ delete_rows_missing_from('payment_id', ref('fct_payments')) }}",
    )
}}

{#- One row per payment attempt, with features that use only what was known when it was made:
    trailing-window velocity per card, device and customer (the current payment included, later
    ones never), novelty of the device and card for the customer, the customer's country as of the
    payment (ASOF join on account versions), account age, and the amount against the customer's
    history. The label columns (fraud_chargeback_at) are kept apart from the features: the trainer
    decides which labels were known at its cutoff. The windows are declared once in
    var('payment_fraud_windows'); the online feature store (ml/features) computes every feature here
    from the same declaration, and its parity test holds it to this table.

    Incremental: a run recomputes the windows only from the earliest payment that is new, changed or
    gone since the last run (compared with fct_payments), reading the longest window back from there
    (payment_fraud_lookback). Everything else is cheap and computed for every payment: first uses,
    card age, the customer's country and sign-up, the chargeback label. The rows that differ from the
    table are replaced; payments no longer in fct_payments are deleted. -#}
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

{% if is_incremental() %}
    loaded as (
        select * from {{ this }}
    ),

    -- the earliest payment that is new, gone or changed since the last run
    recompute_from as (
        select min(least(payments.paid_at, loaded.paid_at)) as paid_at
        from payments
        full outer join loaded on payments.payment_id = loaded.payment_id
        where (
            payments.paid_at, payments.loaded_on, payments.customer_id, payments.card_fingerprint,
            payments.device_id, payments.is_authorized, payments.amount_usd
        ) is distinct from (
            loaded.paid_at, loaded.loaded_on, loaded.customer_id, loaded.card_fingerprint,
            loaded.device_id, loaded.is_authorized, loaded.amount_usd
        )
    ),

    -- the payments whose windows can have changed, and those their windows reach back to
    window_scope as (
        select payments.*
        from payments
        where payments.paid_at >= (select recompute_from.paid_at from recompute_from) - {{ payment_fraud_lookback() }}
    ),
{% else %}
    window_scope as (
        select * from payments
    ),
{% endif %}

computed_windows as (
    -- the declared windows (var payment_fraud_windows), shared with the online feature store
    select
        payment_id,
        paid_at,
        {{ payment_fraud_window_columns() }}
    from window_scope
),

trailing_windows as (
    select * from computed_windows
    {%- if is_incremental() %}
        where paid_at >= (select recompute_from.paid_at from recompute_from)
        union all by name
        -- older payments keep the windows they have: no payment in them changed
        select
            payment_id,
            paid_at,
            {{ payment_fraud_window_names('loaded') }}
        from loaded
        where
            paid_at < (select recompute_from.paid_at from recompute_from)
            or (select recompute_from.paid_at from recompute_from) is null
    {%- endif %}
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
    {{ asof_left_join(
        'payments', 'customer_versions', 'customer_versions', keys=['customer_id'],
        left_time='paid_at', op='>=', right_time='updated_at',
        columns=['payments.payment_id', 'customer_versions.country_code as customer_country_code'],
        left_id=['payment_id'],
    ) }}
),

features as (
    select
        payments.payment_id,
        payments.paid_at,
        payments.loaded_on,
        payments.customer_id,
        payments.card_fingerprint,
        payments.device_id,
        payments.is_authorized,
        payments.amount_usd,
        payments.channel,
        payments.merchant_category_code,
        payments.is_high_risk_merchant_category,
        cast(hour(payments.paid_at) as bigint) as paid_hour_utc,
        payments.ip_country,
        with_country.customer_country_code,
        payments.ip_country is not null
        and with_country.customer_country_code is not null
        and payments.ip_country <> with_country.customer_country_code as is_ip_country_mismatch,
        {{ days_between('customer_first_seen.signed_up_at', 'payments.paid_at') }} as account_age_days,
        {{ days_between('first_uses.card_first_paid_at', 'payments.paid_at') }} as card_age_days,
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
),

final as (
    -- on an incremental run, only the rows that differ from the table (new or changed)
    {{ rows_not_in_table('features') }}
)

select * from final
