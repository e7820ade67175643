with base as (
    select * from {{ ref('base_sensors__readings') }}
    where _dq_reason is null and not _is_duplicate
),

final as (
    select
        machine_id,
        machine_type,
        read_at,
        cast(read_at as date) as read_on,
        temperature_c,
        vibration_mm_s,
        pressure_bar,
        runtime_hours,
        has_failed,
        _loaded_on as loaded_on
    from base
)

select * from final
