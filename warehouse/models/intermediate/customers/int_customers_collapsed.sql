{#- One row per customer: the latest version of the account, with when it first signed up. -#}
with customer_versions as (
    select * from {{ ref('stg_crm__customers') }}
),

ranked as (
    select
        *,
        row_number() over (partition by customer_id order by updated_at desc, loaded_on desc) as version_rank,
        count(*) over (partition by customer_id) as version_count,
        min(signed_up_at) over (partition by customer_id) as first_signed_up_at
    from customer_versions
),

final as (
    select
        customer_id,
        email_hash,
        email_domain,
        phone_masked,
        country_code,
        first_signed_up_at as signed_up_at,
        updated_at,
        is_marketing_opt_in,
        version_count
    from ranked
    where version_rank = 1
)

select * from final
