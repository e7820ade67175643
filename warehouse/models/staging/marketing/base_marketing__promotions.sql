{{ config(materialized='table') }}

{%- set rules = required_column_rules([
    'promotion_id', 'product_id', 'starts_on', 'ends_on', 'discount_pct',
]) + [
    ['ends_on < starts_on', 'ends_before_start'],
    ['discount_pct <= 0 or discount_pct >= 1', 'discount_out_of_range'],
    ['not has_known_product', 'orphan_product_id'],
    ['not has_known_store', 'orphan_store_id'],
] %}

with source as (
    select * from {{ source('marketing', 'promotions') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

stores as (
    select * from {{ ref('stores') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        promotion_id,
        product_id,
        store_id,
        try_cast(starts_on as date) as starts_on,
        try_cast(ends_on as date) as ends_on,
        try_cast(discount_pct as double) as discount_pct
    from source
),

checked as (
    select
        *,
        {{ is_in('product_id', 'products', 'product_id') }} as has_known_product,
        store_id is null or {{ is_in('store_id', 'stores', 'store_id') }} as has_known_store
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
        {{ is_resent_duplicate(['promotion_id']) }} as _is_duplicate
    from classified
)

select * from final
