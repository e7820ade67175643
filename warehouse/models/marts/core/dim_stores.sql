with stores as (
    select * from {{ ref('stores') }}
),

countries as (
    select * from {{ ref('countries') }}
),

final as (
    select
        stores.store_id,
        stores.store_name,
        stores.store_type,
        stores.store_type = 'online' as is_online,
        stores.country_code,
        countries.country_name,
        countries.currency_code,
        stores.city,
        stores.timezone,
        stores.opened_on
    from stores
    left join countries on stores.country_code = countries.country_code
)

select * from final
