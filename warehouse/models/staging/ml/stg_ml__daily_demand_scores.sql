with source as (
    select * from {{ source('ml', 'daily_demand_scores') }}
),

final as (
    select
        store_id || '|' || product_id || '|'
        || {{ format_timestamp('forecast_date', '%Y-%m-%d') }} as demand_forecast_id,
        store_id,
        product_id,
        forecast_date,
        predicted_units,
        model_version,
        scored_at
    from source
)

select * from final
