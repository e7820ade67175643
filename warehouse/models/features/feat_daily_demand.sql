{#- One row per store, product and forecast_date: every day of each series plus the
    {{ var('forecast_horizon_days') }} days after the last sales day (units_sold null: not known yet).
    A row is forecast from its origin, forecast_date - {{ var('forecast_horizon_days') }} days, and
    uses only what was known then: sales up to the origin, and promotions and price changes the
    catalog and marketing systems had published by the origin. Calendar facts of the forecast day
    (weekday, holidays) are known in advance. One model therefore serves every horizon 1..14. -#}
{%- set horizon = var('forecast_horizon_days') %}

with daily_sales as (
    select * from {{ ref('fct_daily_sales') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

stores as (
    select * from {{ ref('dim_stores') }}
),

holidays as (
    select * from {{ ref('holidays') }}
),

promotions as (
    select * from {{ ref('stg_marketing__promotions') }}
),

price_changes as (
    select * from {{ ref('stg_catalog__product_prices') }}
),

series as (
    select
        store_id,
        product_id,
        min(sales_date) as first_date
    from daily_sales
    group by store_id, product_id
),

series_days as (
    select
        series.store_id,
        series.product_id,
        {{ date_series(
            'series.first_date', '(select max(daily_sales.sales_date) from daily_sales) + ' ~ horizon,
        ) }} as forecast_date
    from series
),

grid as (
    select
        series_days.store_id,
        series_days.product_id,
        series_days.forecast_date,
        series_days.forecast_date - {{ horizon }} as origin_date,
        daily_sales.units_sold
    from series_days
    left join daily_sales
        on series_days.store_id = daily_sales.store_id
            and series_days.product_id = daily_sales.product_id
            and series_days.forecast_date = daily_sales.sales_date
),

product_daily as (
    select
        product_id,
        sales_date,
        sum(units_sold) as product_units
    from daily_sales
    group by product_id, sales_date
),

store_daily as (
    select
        store_id,
        sales_date,
        sum(units_sold) as store_units
    from daily_sales
    group by store_id, sales_date
),

product_history as (
    select
        product_id,
        sales_date,
        avg(product_units) over (
            partition by product_id order by sales_date
            range between interval 27 day preceding and current row
        ) as product_units_28d
    from product_daily
),

store_history as (
    select
        store_id,
        sales_date,
        avg(store_units) over (
            partition by store_id order by sales_date
            range between interval 27 day preceding and current row
        ) as store_units_28d
    from store_daily
),

series_history as (
    select
        store_id,
        product_id,
        forecast_date,
        origin_date,
        units_sold,
        lag(units_sold, {{ horizon }}) over series_order as units_same_weekday_lag_14,
        lag(units_sold, {{ horizon + 7 }}) over series_order as units_same_weekday_lag_21,
        lag(units_sold, {{ horizon + 14 }}) over series_order as units_same_weekday_lag_28,
        lag(units_sold, {{ horizon + 21 }}) over series_order as units_same_weekday_lag_35,
        avg(units_sold) over (
            partition by store_id, product_id order by forecast_date
            range between interval {{ horizon + 6 }} day preceding and interval {{ horizon }} day preceding
        ) as units_mean_7d,
        avg(units_sold) over (
            partition by store_id, product_id order by forecast_date
            range between interval {{ horizon + 27 }} day preceding and interval {{ horizon }} day preceding
        ) as units_mean_28d,
        avg(units_sold) over (
            partition by store_id, product_id order by forecast_date
            range between interval {{ horizon + 83 }} day preceding and interval {{ horizon }} day preceding
        ) as units_mean_84d,
        avg(units_sold) over (
            partition by store_id, product_id order by forecast_date
            range between interval 367 day preceding and interval 361 day preceding
        ) as units_mean_last_year_same_week,
        avg(units_sold) over (
            partition by store_id, product_id order by forecast_date
            range between interval {{ horizon + 364 + 27 }} day preceding and interval {{ horizon + 364 }} day preceding
        ) as units_mean_last_year_before_origin,
        count(units_sold) over (
            partition by store_id, product_id order by forecast_date
            range between unbounded preceding and interval {{ horizon }} day preceding
        ) as days_of_history
    from grid
    window series_order as (partition by store_id, product_id order by forecast_date)
),

known_promotions as (
    select
        grid.store_id,
        grid.product_id,
        grid.forecast_date,
        max(promotions.discount_pct) as discount_pct
    from grid
    inner join promotions
        on grid.product_id = promotions.product_id
            and (promotions.is_all_stores or grid.store_id = promotions.store_id)
            and grid.forecast_date between promotions.starts_on and promotions.ends_on
            and grid.origin_date >= promotions.loaded_on
    group by grid.store_id, grid.product_id, grid.forecast_date
),

known_prices as (
    select
        grid.store_id,
        grid.product_id,
        grid.forecast_date,
        {{ value_at_max('price_changes.list_price_usd', 'price_changes.valid_from') }} as list_price_usd
    from grid
    inner join price_changes
        on grid.product_id = price_changes.product_id
            and grid.forecast_date >= price_changes.valid_from
            and grid.origin_date >= price_changes.loaded_on
    group by grid.store_id, grid.product_id, grid.forecast_date
),

final as (
    select
        series_history.store_id,
        series_history.product_id,
        series_history.forecast_date,
        series_history.origin_date,
        series_history.units_sold,
        series_history.units_sold is not null as has_actuals,
        products.category_id,
        stores.store_type,
        {{ iso_day_of_week('series_history.forecast_date') }} as day_of_week,
        -- bigint and double spelled out: Spark's calendar parts are int and its decimal quotient a
        -- decimal, and a model's feature signature records the types it was trained on
        cast(dayofmonth(series_history.forecast_date) as bigint) as day_of_month,
        cast(month(series_history.forecast_date) as bigint) as month_of_year,
        cast(dayofyear(series_history.forecast_date) as bigint) as day_of_year,
        holidays.holiday_date is not null and stores.store_type = 'physical' as is_holiday,
        least(greatest({{ days_between(
            'series_history.forecast_date', 'make_date(year(series_history.forecast_date), 12, 25)',
        ) }}, -10), 60) as days_to_christmas,
        {{ days_between('products.launched_on', 'series_history.forecast_date') }} as days_since_launch,
        coalesce(known_prices.list_price_usd, products.launch_list_price_usd) as list_price_usd,
        cast(
            coalesce(known_prices.list_price_usd, products.launch_list_price_usd)
            / products.launch_list_price_usd as double
        ) as price_vs_launch,
        coalesce(known_promotions.discount_pct, 0) as discount_pct,
        series_history.units_same_weekday_lag_14,
        series_history.units_same_weekday_lag_21,
        series_history.units_same_weekday_lag_28,
        series_history.units_same_weekday_lag_35,
        series_history.units_mean_7d,
        series_history.units_mean_28d,
        series_history.units_mean_84d,
        series_history.units_mean_last_year_same_week,
        series_history.units_mean_last_year_same_week
        / nullif(series_history.units_mean_last_year_before_origin, 0) as last_year_seasonal_ratio,
        series_history.days_of_history,
        product_history.product_units_28d,
        store_history.store_units_28d,
        -- seasonal naive: the same weekday in the last week known at the origin
        series_history.units_same_weekday_lag_14 as seasonal_naive_units
    from series_history
    inner join products on series_history.product_id = products.product_id
    inner join stores on series_history.store_id = stores.store_id
    left join holidays
        on stores.country_code = holidays.country_code
            and series_history.forecast_date = holidays.holiday_date
    left join known_promotions
        on series_history.store_id = known_promotions.store_id
            and series_history.product_id = known_promotions.product_id
            and series_history.forecast_date = known_promotions.forecast_date
    left join known_prices
        on series_history.store_id = known_prices.store_id
            and series_history.product_id = known_prices.product_id
            and series_history.forecast_date = known_prices.forecast_date
    left join product_history
        on series_history.product_id = product_history.product_id
            and series_history.origin_date = product_history.sales_date
    left join store_history
        on series_history.store_id = store_history.store_id
            and series_history.origin_date = store_history.sales_date
)

select * from final
