{{
    config(
        materialized='incremental',
        unique_key=['_source_file', '_source_row_number'],
        partition_by=landing_day_partitions(),
    )
}}

{%- set rules = required_column_rules([
    'order_id', 'line_number', 'product_id', 'quantity', 'unit_price', 'currency',
]) + [
    ['usd_per_unit is null', 'unknown_currency'],
    ['quantity <= 0', 'non_positive_quantity'],
    ['quantity > ' ~ var('max_order_item_quantity'), 'absurd_quantity'],
    ['unit_price < 0', 'negative_unit_price'],
    ['cast(unit_price_usd as double) * quantity > ' ~ var('max_payment_usd'), 'absurd_amount'],
    ['not has_known_order', 'orphan_order_id'],
    ['not has_known_product', 'orphan_product_id'],
] %}

{#- the keys whose copies are classified together, and the loaded rows to classify again -#}
{%- set reclassified = {
    'keys': ['order_id', 'line_number'],
    'recheck': 'not has_known_order or not has_known_product',
} %}

with source as (
    select * from {{ source('shop', 'order_items') }}
    where {{ landing_files_to_load(source('shop', 'order_items')) }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

landed as (
    select
        {{ parquet_lineage_columns() }},
        order_id,
        try_cast(line_number as integer) as line_number,
        product_id,
        try_cast(quantity as integer) as quantity,
        try_cast(unit_price as decimal(12, 2)) as unit_price,
        upper(trim(currency)) as currency
    from source
),

-- the new rows, and the loaded rows whose classification they can change
typed as (
    {{ rows_to_classify(
        'landed',
        derived=['usd_per_unit', 'unit_price_usd', 'has_known_order', 'has_known_product'],
        **reclassified,
    ) }}
),

checked as (
    select
        typed.*,
        currencies.usd_per_unit,
        {{ to_usd('typed.unit_price', 'currencies.usd_per_unit') }} as unit_price_usd,
        {{ is_in('typed.order_id', 'orders', 'order_id') }} as has_known_order,
        {{ is_in('typed.product_id', 'products', 'product_id') }} as has_known_product
    from typed
    left join currencies on typed.currency = currencies.currency_code
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
        {{ is_resent_duplicate(['order_id', 'line_number']) }} as _is_duplicate
    from classified
)

select * from final
{{ landing_days_written('landed', **reclassified) }}
