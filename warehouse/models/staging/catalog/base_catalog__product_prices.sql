{{ config(materialized='table') }}

{%- set rules = required_column_rules(['product_id', 'list_price', 'valid_from']) + [
    ['list_price <= 0', 'non_positive_price'],
    ['not has_known_product', 'orphan_product_id'],
] %}

with source as (
    select * from {{ source('catalog', 'product_prices') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        product_id,
        try_cast(list_price as decimal(12, 2)) as list_price,
        try_cast(valid_from as date) as valid_from
    from source
),

checked as (
    select
        *,
        {{ is_in('product_id', 'products', 'product_id') }} as has_known_product
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
        {{ is_resent_duplicate(['product_id', 'valid_from']) }} as _is_duplicate
    from classified
)

select * from final
