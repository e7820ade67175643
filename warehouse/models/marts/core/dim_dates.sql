{#- One row per calendar day from calendar_start to calendar_end: MetricFlow's time spine (day
    grain) and a date dimension for analysts. -#}
with days as (
    select
        {{ date_series("cast('" ~ var('calendar_start') ~ "' as date)",
                       "cast('" ~ var('calendar_end') ~ "' as date)") }} as date_day
),

final as (
    select
        date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start_date,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
        {{ iso_day_of_week('date_day') }} as iso_day_of_week
    from days
)

select * from final
