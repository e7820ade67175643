{#- One row per store, product and forecast day: the champion's forecast next to what sold on the
    same weekday last year and the recent trend before the forecast window. -#}
with forecasts as (
    select * from {{ ref('stg_ml__daily_demand_scores') }}
),

daily_sales as (
    select * from {{ ref('fct_daily_sales') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

forecast_windows as (
    select
        store_id,
        product_id,
        min(forecast_date) as first_forecast_date
    from forecasts
    group by store_id, product_id
),

recent_sales as (
    select
        forecast_windows.store_id,
        forecast_windows.product_id,
        avg(daily_sales.units_sold) filter (
            where daily_sales.sales_date >= forecast_windows.first_forecast_date - 28
        ) as units_per_day_last_28d,
        avg(daily_sales.units_sold) filter (
            where daily_sales.sales_date < forecast_windows.first_forecast_date - 28
        ) as units_per_day_previous_28d
    from forecast_windows
    inner join daily_sales
        on forecast_windows.store_id = daily_sales.store_id
            and forecast_windows.product_id = daily_sales.product_id
            and daily_sales.sales_date >= forecast_windows.first_forecast_date - 56
            and forecast_windows.first_forecast_date > daily_sales.sales_date
    group by forecast_windows.store_id, forecast_windows.product_id
),

final as (
    select
        forecasts.demand_forecast_id,
        forecasts.store_id,
        forecasts.product_id,
        products.product_name,
        products.category_name,
        forecasts.forecast_date,
        forecasts.predicted_units,
        last_year.units_sold as units_same_weekday_last_year,
        recent_sales.units_per_day_last_28d,
        recent_sales.units_per_day_previous_28d,
        recent_sales.units_per_day_last_28d
        / nullif(recent_sales.units_per_day_previous_28d, 0) - 1 as recent_trend_pct,
        forecasts.model_version,
        forecasts.scored_at
    from forecasts
    left join products on forecasts.product_id = products.product_id
    left join daily_sales as last_year
        on forecasts.store_id = last_year.store_id
            and forecasts.product_id = last_year.product_id
            and forecasts.forecast_date - 364 = last_year.sales_date
    left join recent_sales
        on forecasts.store_id = recent_sales.store_id
            and forecasts.product_id = recent_sales.product_id
)

select * from final
