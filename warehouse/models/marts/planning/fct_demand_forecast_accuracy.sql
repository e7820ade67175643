{#- One row per store, product and forecast day whose actual sales are known: the champion's
    forecast against the units sold, and the error both ways. Forecast WAPE and bias are measured on
    it (the demand semantic model). Empty until a champion has scored. -#}
with forecasts as (
    select * from {{ ref('stg_ml__daily_demand_scores') }}
),

daily_sales as (
    select * from {{ ref('fct_daily_sales') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

final as (
    select
        forecasts.demand_forecast_id,
        forecasts.store_id,
        forecasts.product_id,
        products.category_name,
        forecasts.forecast_date,
        forecasts.predicted_units,
        daily_sales.units_sold as actual_units,
        forecasts.predicted_units - daily_sales.units_sold as error_units,
        abs(forecasts.predicted_units - daily_sales.units_sold) as absolute_error_units,
        forecasts.model_version
    from forecasts
    inner join daily_sales
        on forecasts.store_id = daily_sales.store_id
            and forecasts.product_id = daily_sales.product_id
            and forecasts.forecast_date = daily_sales.sales_date
    left join products on forecasts.product_id = products.product_id
)

select * from final
