{#- One row per customer version. Raw PII stops here: emails are salted hashes, phones masked.
    A table, unlike the other staging models: the salt is a secret dbt hands to DuckDB for the build
    (warehouse/plugins/pii_salt.py), so the hashes are computed once here, and a query on this model
    or anything built on it needs no salt. -#}
{{ config(materialized='table') }}

with base as (
    select * from {{ ref('base_crm__customers') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        customer_id || '@' || {{ format_timestamp('updated_at', '%Y-%m-%dT%H:%M:%S') }} as customer_version_id,
        customer_id,
        {{ hash_pii('email') }} as email_hash,
        lower(split_part(trim(email), '@', 2)) as email_domain,
        {{ mask_phone('phone') }} as phone_masked,
        country_code,
        signed_up_at,
        updated_at,
        coalesce(marketing_opt_in, false) as is_marketing_opt_in,
        _loaded_on as loaded_on
    from base
)

select * from final
