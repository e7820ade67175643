{#- One row per version of a customer account, each valid from its updated_at until the next
    version's: the account as it was at any past time. dim_customers keeps only the current version;
    this is what a point-in-time lookup outside the warehouse reads (the online fraud features'
    customer country as of a payment, as feat_payment_fraud's ASOF join gets it). -#}
with customer_versions as (
    select * from {{ ref('stg_crm__customers') }}
),

bounded as (
    select
        customer_version_id,
        customer_id,
        country_code,
        signed_up_at,
        updated_at,
        lead(updated_at) over (partition by customer_id order by updated_at) as superseded_at
    from customer_versions
),

final as (
    select
        customer_version_id,
        customer_id,
        country_code,
        signed_up_at,
        updated_at,
        superseded_at,
        superseded_at is null as is_current_version
    from bounded
)

select * from final
