{{ config(materialized='table') }}

{#- The only model that holds raw PII; stg_crm__customers hashes and masks it. -#}
{%- set rules = required_column_rules([
    'customer_id', 'country_code', 'signed_up_at_raw', 'updated_at_raw',
]) + [
    ['not ' ~ has_utc_offset('signed_up_at_raw'), 'timestamp_without_timezone'],
    ['not ' ~ has_utc_offset('updated_at_raw'), 'timestamp_without_timezone'],
    ['signed_up_at is null or updated_at is null', 'invalid_timestamp'],
    ['updated_at < signed_up_at', 'updated_before_sign_up'],
    ['not has_known_country', 'unknown_country'],
] %}

with source as (
    select * from {{ source('crm', 'customers') }}
),

countries as (
    select * from {{ ref('countries') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        customer_id,
        full_name,
        email,
        phone,
        upper(trim(country_code)) as country_code,
        signed_up_at as signed_up_at_raw,
        updated_at as updated_at_raw,
        {{ to_utc_timestamp('signed_up_at') }} as signed_up_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        try_cast(marketing_opt_in as boolean) as marketing_opt_in
    from source
),

checked as (
    select
        *,
        {{ is_in('country_code', 'countries', 'country_code') }} as has_known_country
    from typed
),

classified as (
    select
        *,
        {{ first_failed_rule(rules) }} as _dq_reason
    from checked
),

final as (
    select
        *,
        {{ is_resent_duplicate(['customer_id', 'updated_at']) }} as _is_duplicate
    from classified
)

select * from final
