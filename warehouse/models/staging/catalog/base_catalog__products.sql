{{ config(materialized='table') }}

{%- set rules = required_column_rules([
    'product_id', 'product_name', 'category_id', 'launched_on', 'list_price',
]) + [
    ['list_price <= 0', 'non_positive_price'],
    ['not has_known_category', 'orphan_category_id'],
] %}

with source as (
    select * from {{ source('catalog', 'products') }}
),

categories as (
    select * from {{ ref('product_categories') }}
),

typed as (
    select
        {{ parquet_lineage_columns() }},
        product_id,
        product_name,
        upper(trim(category_id)) as category_id,
        brand,
        try_cast(launched_on as date) as launched_on,
        try_cast(list_price as decimal(12, 2)) as list_price
    from source
),

checked as (
    select
        *,
        {{ is_in('category_id', 'categories', 'category_id') }} as has_known_category
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
        {{ is_resent_duplicate(['product_id']) }} as _is_duplicate
    from classified
)

select * from final
